import { backoffDelay, sleep } from '@zoom-pipeline/async-kit';
import { type ClientRequest, type IncomingMessage } from 'node:http';
import { finished, PassThrough } from 'node:stream';
import { DownloadError, describeNetworkError, parseRetryAfter } from './download-error';
import { checkHop, checkHopStatic, systemResolve, type HopPolicy, type ResolveHost } from './hop-guard';
import { abortReason, sendHop } from './http-hop';
import { DEFAULT_S2S_TOKEN_URL, S2STokenProvider, type S2STokenSource } from './s2s-token-provider';
import type {
  DownloadRequest,
  DownloadStats,
  DownloadStream,
  DownloadTokenSource,
  RecordingDownloader,
  TokenSource,
  UserAccessTokens,
} from './zoom-download.port';

export interface ZoomDownloaderOptions {
  /** `host`, `*.domain`; an exact loopback entry (`127.0.0.1`, `localhost`, `::1`) may use plain http. */
  allowedHosts: readonly string[];
  /** Server-to-Server OAuth, the fallback when download tokens are missing, rejected or too old. */
  s2s?: { accountId: string; clientId: string; clientSecret: string; tokenUrl?: string };
  /** Linked users' OAuth tokens (accounts feature): tried for a request with an `owner`, after its download tokens. */
  userAccessTokens?: UserAccessTokens;
  /** One S2S token cache shared with other Zoom API callers of the process (libs/zoom-api); wins over `s2s`. */
  s2sTokens?: S2STokenSource;
  /** Consecutive failed requests without progress before giving up; default 5. */
  maxAttempts?: number;
  /** Exponential backoff with full jitter between failed requests; default 500 ms doubling to 30 s. */
  backoff?: { baseMs: number; maxMs: number };
  /** Webhook tokens older than this are not tried when s2s is configured; default 24 h (Zoom's lifetime). */
  tokenMaxAgeMs?: number;
  /** Default 10 s. */
  connectTimeoutMs?: number;
  /** No byte for this long (while the consumer is keeping up) counts as a break; default 30 s. */
  idleTimeoutMs?: number;
  /** Default 5. */
  maxRedirects?: number;
  now?: () => number;
  /** DNS, injectable for tests; default `dns.promises.lookup(host, { all: true })`. */
  resolve?: ResolveHost;
}

type Credential = { source: DownloadTokenSource; token: string } | { source: 's2s' } | { source: 'user_oauth' };

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const USER_AGENT = 'zoom-pipeline-downloader';
const DAY_MS = 24 * 60 * 60 * 1000;
/** Body buffer between the socket and the consumer; the socket pauses beyond it (memory ≠ file size). */
const BODY_HIGH_WATER_MARK = 256 * 1024;
/** Do not bother with a pre-signed URL that expires this soon: the resume would race its expiry. */
const PRESIGNED_EXPIRY_MARGIN_MS = 5_000;

const NO_S2S_HINT =
  'no Server-to-Server OAuth credentials are configured (ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET)';

interface ResolvedOptions {
  policy: HopPolicy;
  s2s: S2STokenSource | undefined;
  userAccessTokens: UserAccessTokens | undefined;
  maxAttempts: number;
  backoff: { baseMs: number; maxMs: number };
  tokenMaxAgeMs: number;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  maxRedirects: number;
  now: () => number;
}

/**
 * Streams one Zoom recording file (SPEC §7 invariants 5 and 6; docs/ZOOM-FACTS.md §5). Every hop is checked against
 * the allow-list and the private-address rule before any byte is sent to it, the token goes to the first
 * hop only, and breaks are resumed with Range so the consumer sees one stream of exactly `expectedSize`
 * bytes or an error.
 */
export class ZoomDownloader implements RecordingDownloader {
  private readonly options: ResolvedOptions;

  constructor(options: ZoomDownloaderOptions) {
    const now = options.now ?? Date.now;
    this.options = {
      policy: { allowedHosts: [...options.allowedHosts], resolve: options.resolve ?? systemResolve },
      s2s:
        options.s2sTokens ??
        (options.s2s
          ? new S2STokenProvider({
              accountId: options.s2s.accountId,
              clientId: options.s2s.clientId,
              clientSecret: options.s2s.clientSecret,
              tokenUrl: options.s2s.tokenUrl ?? DEFAULT_S2S_TOKEN_URL,
              now,
              timeoutMs: options.connectTimeoutMs,
            })
          : undefined),
      userAccessTokens: options.userAccessTokens,
      maxAttempts: Math.max(1, Math.floor(options.maxAttempts ?? 5)),
      backoff: options.backoff ?? { baseMs: 500, maxMs: 30_000 },
      tokenMaxAgeMs: options.tokenMaxAgeMs ?? DAY_MS,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      idleTimeoutMs: options.idleTimeoutMs ?? 30_000,
      maxRedirects: options.maxRedirects ?? 5,
      now,
    };
  }

  async open(req: DownloadRequest): Promise<DownloadStream> {
    if (req.expectedSize !== undefined && (!Number.isSafeInteger(req.expectedSize) || req.expectedSize < 0)) {
      throw new TypeError('expectedSize must be a non-negative integer (the webhook file_size) or undefined');
    }
    let url: URL;
    try {
      url = new URL(req.url);
    } catch {
      throw new DownloadError('download_forbidden_host', 'the download URL is not a valid absolute URL', {
        retryable: false,
      });
    }
    // Fail before any token request or connection when the first hop can never be allowed.
    checkHopStatic(url, this.options.policy.allowedHosts);
    if (req.signal?.aborted) throw abortReason(req.signal);
    return new DownloadRun(this.options, url, req).start();
  }
}

interface AcceptedHead {
  req: ClientRequest;
  res: IncomingMessage;
  host: string;
  contentType: string;
  /** Bytes at the start of this body already emitted (a server that ignored our Range and sent 200). */
  skip: number;
}

/** The first hop refused the credential (401/403) or answered Zoom's HTML page: try the next one. */
class CredentialRejected extends Error {
  constructor(readonly error: DownloadError) {
    super(error.message);
  }
}

class DownloadRun {
  private readonly out = new PassThrough({ highWaterMark: BODY_HIGH_WATER_MARK });
  private readonly controller = new AbortController();
  private readonly credentials: Credential[];
  private credentialIndex = 0;
  private consecutiveS2SRejections = 0;
  private lastS2SToken: string | undefined;
  private lastRejection: DownloadError | undefined;
  private lastTarget: URL | undefined;
  private received = 0;
  private attempts = 0;
  private resumes = 0;
  private tokenSource: TokenSource;
  private completed = false;
  /** file_size; when Zoom sent none, the first size a server declares (Content-Length or Content-Range total). */
  private expected: number | undefined;
  /** What the checks compare against, for messages: Zoom's file_size or the server's own declaration. */
  private expectedLabel = 'file_size';

  constructor(
    private readonly o: ResolvedOptions,
    private readonly firstUrl: URL,
    private readonly req: DownloadRequest,
  ) {
    this.credentials = chooseCredentials(req, o);
    this.tokenSource = this.credentials[0]?.source ?? 'webhook';
    this.expected = req.expectedSize;
  }

  start(): Promise<DownloadStream> {
    const external = this.req.signal;
    const onExternalAbort = (): void => this.controller.abort(external ? abortReason(external) : undefined);
    external?.addEventListener('abort', onExternalAbort, { once: true });
    // A consumer that gives up (an S3 upload failing and destroying the body) must not leave sockets open.
    this.out.once('close', () => {
      if (!this.completed) this.controller.abort();
    });

    return new Promise<DownloadStream>((resolve, reject) => {
      let opened = false;
      this.run((contentType) => {
        opened = true;
        resolve({ body: this.out, contentType, stats: () => this.stats() });
      }).then(
        () => {
          external?.removeEventListener('abort', onExternalAbort);
          this.completed = true;
          this.out.end();
        },
        (err: unknown) => {
          external?.removeEventListener('abort', onExternalAbort);
          const error = err instanceof Error ? err : new Error('download failed');
          if (opened) this.out.destroy(error);
          else reject(error);
        },
      );
    });
  }

  private stats(): DownloadStats {
    return { attempts: this.attempts, resumes: this.resumes, bytes: this.received, tokenSource: this.tokenSource };
  }

  private get signal(): AbortSignal {
    return this.controller.signal;
  }

  private async run(onOpen: (contentType: string) => void): Promise<void> {
    let opened = false;
    let failedInARow = 0;
    for (;;) {
      if (this.signal.aborted) throw abortReason(this.signal);
      const offset = this.received;
      this.attempts += 1;
      if (offset > 0) this.resumes += 1;
      try {
        const head = await this.connect(offset);
        if (!opened) {
          opened = true;
          onOpen(head.contentType);
        }
        await this.pump(head);
        return;
      } catch (err) {
        if (this.signal.aborted) throw abortReason(this.signal);
        if (err instanceof CredentialRejected) {
          this.onCredentialRejected(err.error);
          continue; // another credential, not a transient failure: no backoff
        }
        const error =
          err instanceof DownloadError
            ? err
            : new DownloadError('download_network', describeNetworkError(err), { retryable: true });
        if (!error.retryable) throw error;
        // Rate limited or down for a while (429/503 + Retry-After) before any byte: hand it to the caller, which
        // retries the file later without holding a transfer slot, rather than waiting here (issue #4).
        if (!opened && error.retryAfterMs !== undefined) throw error;
        // The budget counts failures in a row without progress: a connection that delivered new bytes
        // starts a new count, so an 8-hour recording cut at random points still completes (docs/USER-REPORTS.md #13).
        failedInARow = this.received > offset ? 1 : failedInARow + 1;
        if (failedInARow >= this.o.maxAttempts) {
          throw new DownloadError(
            error.code,
            `${stripHost(error)} (gave up after ${failedInARow} failed attempts in a row)`,
            {
              retryable: true,
              host: error.host,
              status: error.status,
            },
          );
        }
        // Mid-body: honour Retry-After (bounded by the backoff cap) so a resume does not hammer a limited server.
        // Full jitter: many pods retrying one host spread out best (AWS, "Exponential Backoff And Jitter").
        const backoff = { initialMs: this.o.backoff.baseMs, maxMs: this.o.backoff.maxMs };
        await sleep(
          Math.max(
            backoffDelay(failedInARow, backoff, { jitter: 'full' }),
            Math.min(error.retryAfterMs ?? 0, this.o.backoff.maxMs),
          ),
          this.signal,
        );
        if (this.signal.aborted) throw abortReason(this.signal);
      }
    }
  }

  private onCredentialRejected(error: DownloadError): void {
    const credential = this.credentials[this.credentialIndex];
    if (credential?.source === 's2s') {
      // An S2S token can expire mid-download (1 h lifetime, docs/USER-REPORTS.md #12): one fresh token is worth a
      // try, a second rejection in a row means the app lacks access.
      this.consecutiveS2SRejections += 1;
      this.o.s2s?.invalidate(this.lastS2SToken);
      if (this.consecutiveS2SRejections >= 2) {
        throw new DownloadError(
          error.code,
          `${stripHost(error)}: a fresh Server-to-Server OAuth access token was rejected too (check the app's ` +
            'recording scopes)',
          { retryable: false, host: error.host, status: error.status },
        );
      }
      return;
    }
    this.lastRejection = error;
    this.credentialIndex += 1;
  }

  private currentCredential(): Credential {
    const credential = this.credentials[this.credentialIndex];
    if (credential !== undefined) return credential;
    const host = this.lastRejection?.host ?? checkHopStatic(this.firstUrl, this.o.policy.allowedHosts).host;
    if (this.lastRejection === undefined) {
      throw new DownloadError('download_unauthorized', `no download token was provided and ${NO_S2S_HINT}`, {
        retryable: false,
        host,
      });
    }
    const what =
      this.lastRejection.code === 'download_html_response' ? 'answered an HTML page instead of the file: ' : '';
    throw new DownloadError(
      this.lastRejection.code,
      `${what}the download token was rejected or expired and ${NO_S2S_HINT}`,
      {
        retryable: false,
        host,
        status: this.lastRejection.status,
      },
    );
  }

  /** One attempt: the last pre-signed target if it may still be valid, else the chain from the first hop. */
  private async connect(offset: number): Promise<AcceptedHead> {
    const shortcut = this.lastTarget;
    if (offset > 0 && shortcut !== undefined) {
      this.lastTarget = undefined;
      if (!presignedUrlExpired(shortcut, this.o.now())) {
        try {
          const head = await this.follow(shortcut, undefined, offset);
          this.lastTarget = shortcut;
          return head;
        } catch (err) {
          if (this.signal.aborted) throw err;
          // Expired signature, a 403, html, anything: fall back to the first hop with the credential.
        }
      }
    }
    const credential = this.currentCredential();
    const bearer =
      credential.source === 's2s'
        ? await this.s2sToken()
        : credential.source === 'user_oauth'
          ? await this.userToken()
          : credential.token;
    const head = await this.follow(this.firstUrl, bearer, offset, credential);
    this.tokenSource = credential.source;
    if (credential.source === 's2s') this.consecutiveS2SRejections = 0;
    return head;
  }

  /** The linked user's token; none (unlinked, revoked, needs re-auth) counts as a rejected credential. */
  private async userToken(): Promise<string> {
    const token = this.req.owner ? await this.o.userAccessTokens?.accessTokenFor(this.req.owner) : undefined;
    if (token === undefined)
      throw new CredentialRejected(
        new DownloadError('download_unauthorized', 'the linked Zoom user has no usable OAuth token', {
          retryable: false,
        }),
      );
    return token;
  }

  private async s2sToken(): Promise<string> {
    if (!this.o.s2s) throw new Error('unreachable: s2s credential without provider');
    this.lastS2SToken = await this.o.s2s.getToken();
    return this.lastS2SToken;
  }

  /**
   * Follows redirects hop by hop. Each Location is resolved against the current URL and checked before
   * anything is sent; the bearer goes to the first hop only (pre-signed targets refuse it, and it must
   * never reach a host we did not choose).
   */
  private async follow(
    start: URL,
    bearer: string | undefined,
    offset: number,
    credential?: Credential,
  ): Promise<AcceptedHead> {
    let url = start;
    for (let hop = 0; ; hop += 1) {
      const checked = await checkHop(url, this.o.policy);
      const headers: Record<string, string> = {
        accept: '*/*',
        // The byte count is compared with file_size: no transfer compression.
        'accept-encoding': 'identity',
        'user-agent': USER_AGENT,
      };
      if (hop === 0 && bearer !== undefined) headers.authorization = `Bearer ${bearer}`;
      if (offset > 0) headers.range = `bytes=${offset}-`;
      const { req, res } = await sendHop({
        target: checked,
        method: 'GET',
        headers,
        connectTimeoutMs: this.o.connectTimeoutMs,
        headersTimeoutMs: this.o.idleTimeoutMs,
        signal: this.signal,
      });
      const status = res.statusCode ?? 0;
      if (REDIRECT_STATUSES.has(status)) {
        const location = res.headers.location;
        discard(req, res);
        if (location === undefined || location === '') {
          throw new DownloadError('download_http_error', `redirect (HTTP ${status}) without a Location`, {
            retryable: false,
            host: checked.host,
            status,
          });
        }
        if (hop >= this.o.maxRedirects) {
          throw new DownloadError('download_http_error', `more than ${this.o.maxRedirects} redirects`, {
            retryable: false,
            host: checked.host,
            status,
          });
        }
        try {
          url = new URL(location, url);
        } catch {
          throw new DownloadError('download_http_error', 'redirect to an invalid URL', {
            retryable: false,
            host: checked.host,
            status,
          });
        }
        continue;
      }
      try {
        const head = this.accept(req, res, checked.host, status, offset, hop === 0 && credential !== undefined);
        if (credential !== undefined) this.lastTarget = hop > 0 ? url : undefined;
        return head;
      } catch (err) {
        discard(req, res);
        if (credential !== undefined && err instanceof DownloadError && err.code === 'download_html_response') {
          // Zoom's "Only the host can download…" page: a token problem wearing a 200 (docs/USER-REPORTS.md #12).
          throw new CredentialRejected(err);
        }
        throw err;
      }
    }
  }

  private accept(
    req: ClientRequest,
    res: IncomingMessage,
    host: string,
    status: number,
    offset: number,
    credentialHop: boolean,
  ): AcceptedHead {
    const contentType = headerValue(res.headers['content-type']);
    if (status === 200 || (status === 206 && offset > 0)) {
      if (/^\s*text\/html/i.test(contentType)) {
        throw new DownloadError(
          'download_html_response',
          `answered HTTP ${status} with an HTML page instead of the file`,
          { retryable: false, host, status },
        );
      }
      const encoding = headerValue(res.headers['content-encoding']).trim().toLowerCase();
      if (encoding !== '' && encoding !== 'identity') {
        throw new DownloadError('download_http_error', `answered with content-encoding ${encoding.slice(0, 32)}`, {
          retryable: false,
          host,
          status,
        });
      }
      const declared = res.headers['content-length'] === undefined ? undefined : Number(res.headers['content-length']);
      if (status === 200) {
        if (declared !== undefined && Number.isSafeInteger(declared) && this.expected === undefined)
          this.adoptDeclaredSize(declared, 'Content-Length');
        if (declared !== undefined && declared !== this.expected) {
          throw new DownloadError(
            'download_size_mismatch',
            `declared ${declared} bytes but ${this.expectedLabel} is ${this.expected}`,
            { retryable: false, host, status },
          );
        }
        return { req, res, host, contentType: contentType || 'application/octet-stream', skip: offset };
      }
      const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(headerValue(res.headers['content-range']).trim());
      if (!range || Number(range[1]) !== offset) {
        throw new DownloadError(
          'download_http_error',
          `answered a Range request for byte ${offset} with another range`,
          { retryable: true, host, status },
        );
      }
      if (range[3] !== '*' && this.expected === undefined)
        this.adoptDeclaredSize(Number(range[3]), 'Content-Range total');
      if (range[3] !== '*' && Number(range[3]) !== this.expected) {
        throw new DownloadError(
          'download_size_mismatch',
          `reports a total of ${range[3]} bytes but ${this.expectedLabel} is ${this.expected}`,
          { retryable: false, host, status },
        );
      }
      return { req, res, host, contentType: contentType || 'application/octet-stream', skip: 0 };
    }
    if (status === 416 && offset > 0) {
      // A Range at byte `offset` is past the end: the server has fewer bytes than file_size (a chunked body that
      // ended early and no Content-Length to tell us so). Another attempt serves the same bytes.
      const total = /^bytes \*\/(\d+)$/.exec(headerValue(res.headers['content-range']).trim());
      const what = total ? `has ${total[1]} bytes` : `has no bytes after ${offset}`;
      throw new DownloadError(
        'download_size_mismatch',
        `${what} but ${this.expectedLabel} is ${this.expected ?? `at least ${offset + 1}`}`,
        { retryable: false, host, status },
      );
    }
    if ((status === 401 || status === 403) && credentialHop) {
      throw new CredentialRejected(
        new DownloadError('download_unauthorized', `rejected the download credential (HTTP ${status})`, {
          retryable: false,
          host,
          status,
        }),
      );
    }
    const retryable = status === 429 || status >= 500;
    const retryAfterMs = retryable ? parseRetryAfter(res.headers['retry-after'], this.o.now()) : undefined;
    throw new DownloadError('download_http_error', `answered HTTP ${status}`, {
      retryable,
      host,
      status,
      retryAfterMs,
    });
  }

  /** Zoom sent no file_size: the server's first declaration becomes the size every later answer and byte is held to. */
  private adoptDeclaredSize(size: number, what: string): void {
    this.expected = size;
    this.expectedLabel = `the first ${what}`;
  }

  /**
   * Moves the body into `out` chunk by chunk and pauses the socket whenever `out` is full, so memory stays
   * at the high-water mark whatever the file size. Resolves when exactly the expected bytes are in (unknown size and
   * none declared: when the body ends cleanly).
   */
  private pump(head: AcceptedHead): Promise<void> {
    const { req, res, host } = head;
    const expected = this.expected;
    const of = expected === undefined ? '' : ` of ${expected}`;
    const idleMs = this.o.idleTimeoutMs;
    return new Promise<void>((resolve, reject) => {
      let skip = head.skip;
      let done = false;
      let idle: NodeJS.Timeout | undefined;

      const finish = (err?: Error): void => {
        if (done) return;
        done = true;
        if (idle) clearTimeout(idle);
        res.off('data', onData);
        this.out.off('drain', onDrain);
        cleanupFinished();
        if (err) {
          discard(req, res);
          reject(err);
        } else {
          resolve();
        }
      };
      // The idle clock only runs while we are waiting for the server, never while the consumer is slow.
      const startIdle = (): void => {
        if (idle) idle.refresh();
        else
          idle = setTimeout(
            () =>
              finish(
                new DownloadError('download_network', `stalled for ${idleMs} ms after ${this.received}${of} bytes`, {
                  retryable: true,
                  host,
                }),
              ),
            idleMs,
          );
      };
      const stopIdle = (): void => {
        if (idle) clearTimeout(idle);
        idle = undefined;
      };
      const onDrain = (): void => {
        if (done) return;
        startIdle();
        res.resume();
      };
      const onData = (data: Buffer): void => {
        if (done) return;
        let chunk = data;
        if (skip > 0) {
          // The server ignored Range and restarted at byte 0: drop what the consumer already has.
          if (chunk.length <= skip) {
            skip -= chunk.length;
            startIdle();
            return;
          }
          chunk = chunk.subarray(skip);
          skip = 0;
        }
        if (expected !== undefined && this.received + chunk.length > expected) {
          finish(
            new DownloadError('download_size_mismatch', `sent more than ${this.expectedLabel} (${expected} bytes)`, {
              retryable: false,
              host,
            }),
          );
          return;
        }
        this.received += chunk.length;
        if (this.out.write(chunk)) {
          startIdle();
        } else {
          stopIdle();
          res.pause();
          this.out.once('drain', onDrain);
        }
      };
      const cleanupFinished = finished(res, (err) => {
        if (done) return;
        // All bytes in: a connection that breaks after the last byte lost nothing. Size unknown and none declared:
        // a clean end (chunked terminator) is the end; a break is resumed like any other.
        if ((expected === undefined ? !err : this.received === expected) && skip === 0) {
          finish();
          return;
        }
        const why = err ? `connection broke (${describeNetworkError(err)})` : 'body ended early';
        finish(
          new DownloadError('download_network', `${why} after ${this.received}${of} bytes`, { retryable: true, host }),
        );
      });
      res.on('data', onData);
      startIdle();
    });
  }
}

function chooseCredentials(req: DownloadRequest, o: ResolvedOptions): Credential[] {
  const now = o.now();
  const seen = new Set<string>();
  const credentials: Credential[] = [];
  for (const t of req.tokens) {
    if (t.token === '' || seen.has(t.token)) continue;
    // Without S2S an old token is still worth a try; with it, a token Zoom has most likely expired
    // (24 h lifetime, docs/ZOOM-FACTS.md §4) only costs a round trip and an html page.
    if (o.s2s && now - t.receivedAtMs > o.tokenMaxAgeMs) continue;
    seen.add(t.token);
    credentials.push({ source: t.source, token: t.token });
  }
  if (o.userAccessTokens && req.owner) credentials.push({ source: 'user_oauth' });
  if (o.s2s) credentials.push({ source: 's2s' });
  return credentials;
}

/**
 * Pre-signed URLs carry their expiry (CloudFront canned policy `Expires`, S3 `X-Amz-Date` +
 * `X-Amz-Expires`). Unknown forms count as valid: a failed try costs one request and falls back.
 */
export function presignedUrlExpired(url: URL, nowMs: number): boolean {
  const expires = url.searchParams.get('Expires');
  if (expires !== null && /^\d+$/.test(expires)) return Number(expires) * 1000 - PRESIGNED_EXPIRY_MARGIN_MS <= nowMs;
  const amzDate = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(url.searchParams.get('X-Amz-Date') ?? '');
  const amzExpires = url.searchParams.get('X-Amz-Expires');
  if (amzDate && amzExpires !== null && /^\d+$/.test(amzExpires)) {
    const [, y, mo, d, h, mi, s] = amzDate.map(Number);
    const signedAt = Date.UTC(y, mo - 1, d, h, mi, s);
    return signedAt + Number(amzExpires) * 1000 - PRESIGNED_EXPIRY_MARGIN_MS <= nowMs;
  }
  return false;
}

function discard(req: ClientRequest, res: IncomingMessage): void {
  res.destroy();
  req.destroy();
}

function headerValue(value: string | string[] | undefined): string {
  return Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
}

/** The reason without the `host: ` prefix the constructor adds, to rebuild a message around it. */
function stripHost(error: DownloadError): string {
  return error.host !== undefined && error.message.startsWith(`${error.host}: `)
    ? error.message.slice(error.host.length + 2)
    : error.message;
}
