import pino, { type Logger } from 'pino';
import { activeTraceFields } from './tracing';

export type { Logger } from 'pino';

/**
 * Paths pino censors wherever they appear. Belt and braces: the code never logs bodies or headers
 * wholesale, but a future `log.info({ headers })` must not leak Zoom's signature, clientid or a token.
 */
export const REDACT_PATHS = [
  'authorization',
  '*.authorization',
  '*.*.authorization',
  'headers["x-zm-signature"]',
  '*.headers["x-zm-signature"]',
  'headers.clientid',
  '*.headers.clientid',
  'clientid',
  'download_token',
  '*.download_token',
  '*.*.download_token',
  'downloadToken',
  '*.downloadToken',
  'access_token',
  '*.access_token',
  'password',
  '*.password',
  '*.*.password',
  'secret',
  '*.secret',
  'clientSecret',
  '*.clientSecret',
  'email',
  '*.email',
  '*.*.email',
  'public_ip',
  '*.public_ip',
  '*.*.public_ip',
  'private_ip',
  '*.private_ip',
];

/**
 * Client IP addresses are personal data: censored unless the operator opts in (LOG_CLIENT_IPS=true,
 * passed as `logClientIps`). `public_ip`/`private_ip` of participants are always censored (REDACT_PATHS).
 */
export const CLIENT_IP_PATHS = [
  'sourceIp',
  '*.sourceIp',
  'clientIp',
  '*.clientIp',
  'ip',
  '*.ip',
  'remoteAddress',
  '*.remoteAddress',
];

export interface LoggerOptions {
  name: string;
  /** Log client IP addresses as they are (default false: censored). */
  logClientIps?: boolean;
  level?: string;
  /** Tests pass a stream to capture lines. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? 'info',
      redact: {
        paths: options.logClientIps ? REDACT_PATHS : [...REDACT_PATHS, ...CLIENT_IP_PATHS],
        censor: '[redacted]',
      },
      // Correlates each line with the active span (nothing when tracing is off or no span is active).
      mixin: activeTraceFields,
      base: { service: options.name },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ sync: false }),
  );
}

/**
 * Strips query strings (pre-signed URLs, `?access_token=`) and path tokens before a URL reaches a log line or an error.
 */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    const segments = u.pathname.split('/');
    return `${u.protocol}//${u.host}${segments.slice(0, 3).join('/')}${segments.length > 3 ? '/…' : ''}`;
  } catch {
    return '(invalid url)';
  }
}
