import { type IncomingMessage } from 'node:http';
import { isLoopbackName, normalizeHost } from './address-policy';
import { DownloadError, describeNetworkError } from './download-error';
import { sendHop } from './http-hop';

export const DEFAULT_S2S_TOKEN_URL = 'https://zoom.us/oauth/token';

export interface S2STokenProviderOptions {
  accountId: string;
  clientId: string;
  clientSecret: string;
  /** Default https://zoom.us/oauth/token. Plain http only for a loopback host (tests). */
  tokenUrl?: string;
  now?: () => number;
  /** Connect and response timeout of the token request; default 15 s. */
  timeoutMs?: number;
}

/** Zoom treats a token as expired 60 s early too (Rivet's S2SAuth): a token handed out stays valid for the request. */
const EXPIRY_MARGIN_MS = 60_000;
/** A token response is a few hundred bytes; anything far larger is not Zoom's answer. */
const MAX_TOKEN_RESPONSE_BYTES = 64 * 1024;

/** What a caller of Zoom needs from an S2S token cache; one instance per process serves downloads and the REST API. */
export interface S2STokenSource {
  getToken(): Promise<string>;
  invalidate(rejectedToken?: string): void;
}

/** DI token of the process's one S2STokenSource (provided by ZoomDownloadModule when credentials are set). */
export const S2S_TOKEN_SOURCE = Symbol('S2S_TOKEN_SOURCE');

interface CachedToken {
  token: string;
  expiresAtMs: number;
}

/**
 * Server-to-Server OAuth access tokens (`grant_type=account_credentials`, docs/ZOOM-FACTS.md §5), used when a
 * webhook's download token is missing, rejected or too old (docs/USER-REPORTS.md #11). One token is cached until 60 s
 * before it expires; concurrent callers share one request, so a burst of downloads costs one token call.
 */
export class S2STokenProvider implements S2STokenSource {
  private readonly tokenUrl: URL;
  private readonly host: string;
  private readonly now: () => number;
  private readonly timeoutMs: number;
  private readonly basic: string;
  private cached: CachedToken | undefined;
  private inflight: Promise<CachedToken> | undefined;

  constructor(options: S2STokenProviderOptions) {
    let url: URL;
    try {
      url = new URL(options.tokenUrl ?? DEFAULT_S2S_TOKEN_URL);
    } catch {
      throw new TypeError('S2S token URL is not a valid absolute URL');
    }
    const host = normalizeHost(url.hostname) ?? 'invalid host';
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackName(host))) {
      // The request carries the client secret: never over plain http beyond this machine.
      throw new TypeError(
        `S2S token URL must use https (plain http only for a loopback host), got ${url.protocol} for ${host}`,
      );
    }
    url.searchParams.set('grant_type', 'account_credentials');
    url.searchParams.set('account_id', options.accountId);
    this.tokenUrl = url;
    this.host = host;
    this.now = options.now ?? Date.now;
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.basic = Buffer.from(`${options.clientId}:${options.clientSecret}`, 'utf8').toString('base64');
  }

  /** A valid access token: the cached one, the one being fetched, or a new one. */
  async getToken(): Promise<string> {
    if (this.cached && this.now() < this.cached.expiresAtMs - EXPIRY_MARGIN_MS) return this.cached.token;
    if (!this.inflight) {
      const fetching = this.fetchToken().finally(() => {
        if (this.inflight === fetching) this.inflight = undefined;
      });
      this.inflight = fetching;
    }
    return (await this.inflight).token;
  }

  /**
   * Forgets the cached token after Zoom rejected it. Pass the rejected token so that a caller holding
   * an older token does not throw away a newer one another caller just fetched.
   */
  invalidate(rejectedToken?: string): void {
    if (rejectedToken === undefined || this.cached?.token === rejectedToken) this.cached = undefined;
  }

  private async fetchToken(): Promise<CachedToken> {
    const { res, req } = await sendHop({
      target: { url: this.tokenUrl, host: this.host },
      method: 'POST',
      headers: {
        authorization: `Basic ${this.basic}`,
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': '0',
        accept: 'application/json',
      },
      connectTimeoutMs: this.timeoutMs,
      headersTimeoutMs: this.timeoutMs,
    });
    const status = res.statusCode ?? 0;
    if (status !== 200) {
      req.destroy();
      // 400/401/403: wrong account id, client id or secret, or the app is deactivated. Retrying the same
      // credentials cannot help. The body is not quoted: it may echo what we sent.
      const refused = status >= 400 && status < 500 && status !== 408 && status !== 429;
      throw refused
        ? new DownloadError(
            'download_unauthorized',
            `refused the Server-to-Server OAuth credentials (HTTP ${status})`,
            { retryable: false, host: this.host, status },
          )
        : new DownloadError('download_http_error', `Server-to-Server OAuth token request failed (HTTP ${status})`, {
            retryable: true,
            host: this.host,
            status,
          });
    }
    const body = await readSmallBody(res, this.host, this.timeoutMs);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw new DownloadError('download_http_error', 'Server-to-Server OAuth answer is not JSON', {
        retryable: true,
        host: this.host,
      });
    }
    const token = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
    if (typeof token.access_token !== 'string' || token.access_token === '' || typeof token.expires_in !== 'number') {
      throw new DownloadError('download_http_error', 'Server-to-Server OAuth answer lacks access_token or expires_in', {
        retryable: true,
        host: this.host,
      });
    }
    const cached = { token: token.access_token, expiresAtMs: this.now() + token.expires_in * 1000 };
    this.cached = cached;
    return cached;
  }
}

function readSmallBody(res: IncomingMessage, host: string, timeoutMs: number): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => {
      res.destroy();
      reject(
        new DownloadError('download_network', `Server-to-Server OAuth answer stalled for ${timeoutMs} ms`, {
          retryable: true,
          host,
        }),
      );
    }, timeoutMs);
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_TOKEN_RESPONSE_BYTES) {
        clearTimeout(timer);
        res.destroy();
        reject(
          new DownloadError('download_http_error', 'Server-to-Server OAuth answer is too large', {
            retryable: false,
            host,
          }),
        );
        return;
      }
      chunks.push(chunk);
    });
    res.once('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    const brokeOff = (err?: Error): void => {
      clearTimeout(timer);
      reject(
        new DownloadError(
          'download_network',
          `Server-to-Server OAuth answer broke off (${describeNetworkError(err)})`,
          { retryable: true, host },
        ),
      );
    };
    res.once('error', brokeOff);
    res.once('close', () => {
      if (!res.complete) brokeOff();
    });
  });
}
