import type { IncomingMessage } from 'node:http';
import type { Span } from '@opentelemetry/api';
import { AlwaysOnSampler, ParentBasedSampler, type Sampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace';

type Env = Readonly<Record<string, string | undefined>>;

/** Off by default (zero overhead): only an OTLP endpoint turns tracing on, and OTEL_SDK_DISABLED wins. */
export function tracingEnabled(env: Env): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}

/**
 * Zoom sends `traceparent` with the sampled flag off (docs/ZOOM-FACTS.md §3). The SDK default (parent-based,
 * remoteParentNotSampled = AlwaysOff) would drop every span under it, breaking SPEC invariant 8, so spans
 * under any remote parent are recorded; new roots follow OTEL_TRACES_SAMPLER_ARG (default 1). An explicit
 * OTEL_TRACES_SAMPLER is the operator's choice: returns undefined and the SDK reads the env itself.
 */
export function pipelineSampler(env: Env): Sampler | undefined {
  if (env.OTEL_TRACES_SAMPLER?.trim()) return undefined;
  const arg = Number(env.OTEL_TRACES_SAMPLER_ARG);
  const ratio = env.OTEL_TRACES_SAMPLER_ARG?.trim() && Number.isFinite(arg) ? Math.min(1, Math.max(0, arg)) : 1;
  return new ParentBasedSampler({
    root: new TraceIdRatioBasedSampler(ratio),
    remoteParentSampled: new AlwaysOnSampler(),
    remoteParentNotSampled: new AlwaysOnSampler(),
  });
}

/** `dist/apps/<app>/src/main.js` → `zoom-pipeline-<app>`; the service name when OTEL_SERVICE_NAME is unset. */
export function defaultServiceName(entry: string | undefined): string {
  const m = /[\\/]apps[\\/]([\w-]+)[\\/]src[\\/]main\.[jt]s$/.exec(entry ?? '');
  return m ? `zoom-pipeline-${m[1]}` : 'zoom-pipeline';
}

/** Probes and scrapes are not worth a trace each. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/livez', '/metrics']);

export function ignoreIncoming(req: IncomingMessage): boolean {
  const path = (req.url ?? '').split('?')[0];
  return UNTRACED_PATHS.has(path);
}

/**
 * instrumentation-http records the query (only known signature params redacted) and the peer's IP. Zoom
 * never puts anything useful in the query, and client IPs are personal data: overwrite both unless
 * LOG_CLIENT_IPS=true (attributes cannot be removed once set).
 */
export function scrubServerSpan(logClientIps: boolean) {
  return (span: Span): void => {
    span.setAttribute('url.query', '[redacted]');
    if (!logClientIps) {
      span.setAttribute('client.address', '[redacted]');
      span.setAttribute('network.peer.address', '[redacted]');
    }
  };
}
