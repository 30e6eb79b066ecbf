import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo } from 'node:net';
import { CONTENT_CHUNK_SIZE, DeterministicContent } from './deterministic-content';
import { fakeDownloadToken, webhookDownloadUrl } from './payload-builder';

/*
 * Zoom's recording download behaviour (docs/ZOOM-FACTS.md §5) on loopback:
 *   origin host   GET /rec/webhook_download/<fileId>/<opaque>  + Bearer token → 302 to the redirect host,
 *                 bad token → 200 text/html "Only the host can download…" (failure that looks like success)
 *                 POST /oauth/token (Server-to-Server OAuth, account_credentials)
 *   redirect host GET /ssr/<fileId>?Policy=…&Signature=…&Key-Pair-Id=…  (pre-signed, like ssrweb.zoom.us):
 *                 any Authorization header → 400 and a counted leak; bad/expired signature → 403;
 *                 else the bytes, with Range support, optional throttling and one mid-body reset.
 * The two hosts are different loopback addresses so a client's per-host rules (allow-list, never forward
 * the credential) are really exercised.
 */

export interface ResetRequestInfo {
  fileId: string;
  size: number;
  /** How many body responses this file had before this one (0 = the first download). */
  bodyRequestIndex: number;
  /** First byte offset of this response (> 0 for a Range resume). */
  rangeStart: number;
}

/** Bytes of this response after which the socket is destroyed, or undefined for no reset. */
export type ResetPolicy = (request: ResetRequestInfo) => number | undefined;

export interface DownloadServerOptions {
  /** Address of the origin (webhook download URLs, OAuth). Default 127.0.0.1. */
  host?: string;
  /** Address of the pre-signed redirect target. Default 127.0.0.2 (Linux routes all of 127/8 to loopback). */
  redirectHost?: string;
  /** Origin port; default 0 (the OS picks). The redirect host tries the same port first. */
  port?: number;
  /** Real-time bandwidth cap per response. */
  throttleBytesPerSec?: number;
  /** A number: reset each file's first body response after that many bytes. A function: decide per response. */
  resetAfterBytes?: number | ResetPolicy;
  /** Answer a bad token with Zoom's 200 text/html page (default) rather than a 401. */
  htmlForBadToken?: boolean;
  /** Lifetime of the S2S access tokens it issues (`expires_in`); default 3600 s like Zoom. */
  accessTokenTtlSec?: number;
  /** Lifetime of the pre-signed redirect URLs; default 300 s. */
  presignTtlSec?: number;
  /** Time source for token and signature expiry; default Date.now. */
  clock?: { now(): number };
  /**
   * Also accept these bearer tokens for every file, e.g. a linked user's OAuth access token
   * (`oauth.isAccessTokenValid`).
   */
  acceptAccessToken?: (token: string) => boolean;
}

export interface AddFileOptions {
  /** Default: a random lowercase UUID, like Zoom's recording file ids. */
  fileId?: string;
  size: number;
  /** Accepted download token(s); default one fresh fake token. */
  token?: string | string[];
  /** Content seed; default the fileId. Same seed and size = same bytes. */
  seed?: string;
  /** Decides the Content-Type (MP4 → video/mp4, M4A → audio/mp4, VTT, TXT, JSON, CSV); default MP4. */
  fileExtension?: string;
  /** Fault switches for this file; also settable later with setFaults. */
  faults?: FileFaults;
}

/**
 * Faults Zoom shows in production, per file:
 * - `failFirst`: the origin answers the first `count` download requests with `status` (429 rate limit, 503
 *   outage), with `Retry-After: retryAfterSec` when set; `count: Infinity` for a file that never recovers.
 *   `statuses` cycles through several statuses instead (e.g. [429, 503]).
 * - `chunked`: full-file answers come without Content-Length (Transfer-Encoding: chunked), so a size that
 *   disagrees with `file_size` shows only mid-body. (Range answers keep theirs, like CloudFront.)
 */
export interface FileFaults {
  failFirst?: { count: number; status?: number; statuses?: readonly number[]; retryAfterSec?: number };
  chunked?: boolean;
}

export interface SimFile {
  readonly fileId: string;
  /** `<origin>/rec/webhook_download/<fileId>/<opaque>`, the form Zoom puts in webhooks. */
  readonly downloadUrl: string;
  readonly size: number;
  /** The first accepted token. */
  readonly token: string;
  readonly seed: string;
  readonly fileExtension: string;
  readonly contentType: string;
  /** Hex sha256 of the content, computed on first access by streaming the generator (2 GiB ≈ 1–2 s). */
  readonly sha256: string;
  /** The generator, to compare bytes or ranges in tests. */
  readonly content: DeterministicContent;
}

export interface FileDownloadStats {
  /** 302s from the origin to the redirect host. */
  redirects: number;
  /** Bad-token answers (200 text/html, or 401 with htmlForBadToken false). */
  htmlAnswers: number;
  /** GET bodies started at the redirect host (200 or 206). */
  downloadsStarted: number;
  /** Bodies written to the end of their (possibly partial) range. */
  downloadsCompleted: number;
  /** Bodies cut short by the client or by a reset. */
  downloadsAborted: number;
  /** Deliberate mid-body resets (resetAfterBytes). */
  resets: number;
  rangeRequests: number;
  /** Body bytes handed to the kernel. */
  bytesServed: number;
  /** Requests to the redirect host carrying an Authorization header (must stay 0). */
  authHeaderLeaks: number;
  /** Origin answers produced by a `failFirst` fault (429/5xx). */
  faultAnswers: number;
}

export interface DownloadServerStats extends FileDownloadStats {
  /** POSTs to /oauth/token, successful or not. */
  tokenRequests: number;
  tokenFailures: number;
  /** Redirect-host requests with a missing, forged or expired signature. */
  badSignatures: number;
  /** Download requests that carried `?access_token=` (Zoom wants tokens in headers only since 2023). */
  queryTokenUses: number;
  notFound: number;
  /** Authorization header values seen at the redirect host (should be empty). */
  redirectHostAuthorizations: string[];
  files: Record<string, FileDownloadStats>;
}

export interface S2SCredentials {
  accountId: string;
  clientId: string;
  clientSecret: string;
  /** Space-separated scope string returned with the token. */
  scope?: string;
}

export interface DownloadServer {
  /** Origin base URL, e.g. http://127.0.0.1:41234 (use as `downloadBaseUrl`). */
  readonly url: string;
  /** Redirect-host base URL, e.g. http://127.0.0.2:41234. */
  readonly redirectUrl: string;
  /** `<url>/oauth/token`. */
  readonly tokenUrl: string;
  readonly host: string;
  readonly redirectHost: string;
  readonly port: number;
  readonly redirectPort: number;
  addFile(opts: AddFileOptions): SimFile;
  getFile(fileId: string): SimFile | undefined;
  /** Makes `token` valid for the given files (e.g. for the copy of a simultaneous duplicate). */
  grantToken(token: string, fileIds: readonly string[]): void;
  /** A fresh fake download token granted for the given files. */
  issueDownloadToken(fileIds: readonly string[]): string;
  /** Expires/revokes a download or access token everywhere. */
  revokeToken(token: string): void;
  /** Replaces a file's fault switches (undefined clears them); the failFirst count starts again. */
  setFaults(fileId: string, faults: FileFaults | undefined): void;
  setS2SCredentials(creds: S2SCredentials | undefined): void;
  /** True while `token` is an S2S access token this server issued and it has not expired (the REST API checks it). */
  isAccessTokenValid(token: string): boolean;
  /** A pre-signed redirect-host URL; a negative ttl gives an already expired one. */
  presignedUrl(fileId: string, ttlSec?: number): string;
  stats(): DownloadServerStats;
  resetStats(): void;
  close(): Promise<void>;
}

const KEY_PAIR_ID = 'K2ZOOMSIMEXAMPLE';

const CONTENT_TYPES: Record<string, string> = {
  MP4: 'video/mp4',
  M4A: 'audio/mp4',
  VTT: 'text/vtt',
  TXT: 'text/plain',
  JSON: 'application/json',
  CSV: 'text/csv',
  JPG: 'image/jpeg',
};

// The wording is from the observed failure (docs/ZOOM-FACTS.md §5); the markup around it is ours.
const BAD_TOKEN_HTML =
  '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Error - Zoom</title></head>' +
  '<body><div class="error-message">Only the host can download this recording. ' +
  'Please sign in to your Zoom account as the meeting host.</div></body></html>';

function emptyFileStats(): FileDownloadStats {
  return {
    redirects: 0,
    htmlAnswers: 0,
    downloadsStarted: 0,
    downloadsCompleted: 0,
    downloadsAborted: 0,
    resets: 0,
    rangeRequests: 0,
    bytesServed: 0,
    authHeaderLeaks: 0,
    faultAnswers: 0,
  };
}

class SimFileEntry implements SimFile {
  readonly content: DeterministicContent;
  readonly contentType: string;
  readonly tokens = new Set<string>();
  counters = emptyFileStats();
  /** Body responses so far, kept across resetStats so "reset the first download" stays a one-off. */
  bodyRequests = 0;
  faults: FileFaults = {};
  /** Requests answered by the failFirst fault so far. */
  faulted = 0;

  constructor(
    readonly fileId: string,
    readonly downloadUrl: string,
    readonly size: number,
    readonly token: string,
    readonly seed: string,
    readonly fileExtension: string,
  ) {
    this.content = new DeterministicContent(seed, size);
    this.contentType = CONTENT_TYPES[fileExtension.toUpperCase()] ?? 'application/octet-stream';
  }

  get sha256(): string {
    return this.content.sha256();
  }
}

type Range = { start: number; end: number } | 'unsatisfiable' | undefined;

/**
 * Single byte ranges only (`N-`, `N-M`, `-K`); anything else is ignored and the whole file is sent (RFC 9110 allows
 * that).
 */
function parseRange(header: string, size: number): Range {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (m === null) return undefined;
  const [, from, to] = m;
  if (from === '' && to === '') return undefined;
  if (from === '') {
    const suffix = Number(to);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size };
  }
  const start = Number(from);
  const end = to === '' ? size : Math.min(size, Number(to) + 1);
  if (to !== '' && Number(to) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return ascii === name
    ? `attachment; filename="${name}"`
    : `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

function bearer(header: string | undefined): string | undefined {
  const m = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m === null ? undefined : m[1];
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    // Keep-alive and stalled sockets would otherwise hold close() open (and jest with it).
    server.closeAllConnections();
  });
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let length = 0;
    req.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > limit) {
        reject(new Error('body too large'));
        req.destroy();
      } else parts.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

class ZoomDownloadServer implements DownloadServer {
  url = '';
  redirectUrl = '';
  tokenUrl = '';
  port = 0;
  redirectPort = 0;
  readonly host: string;
  readonly redirectHost: string;

  private readonly origin: Server;
  private readonly redirect: Server;
  private readonly files = new Map<string, SimFileEntry>();
  private readonly revoked = new Set<string>();
  /** S2S access tokens → expiry (epoch ms). */
  private readonly accessTokens = new Map<string, number>();
  private readonly presignKey = randomBytes(32);
  private readonly now: () => number;
  private credentials: S2SCredentials | undefined;
  private totals = this.emptyTotals();

  constructor(private readonly opts: DownloadServerOptions) {
    this.host = opts.host ?? '127.0.0.1';
    this.redirectHost = opts.redirectHost ?? '127.0.0.2';
    const clock = opts.clock;
    this.now = clock === undefined ? () => Date.now() : () => clock.now();
    this.origin = createServer((req, res) => this.dispatch(req, res, (q, s) => this.handleOrigin(q, s)));
    this.redirect = createServer((req, res) => this.dispatch(req, res, (q, s) => this.handleRedirectHost(q, s)));
  }

  async start(): Promise<void> {
    this.port = await listen(this.origin, this.host, this.opts.port ?? 0);
    try {
      // Same port on the other address, so the Location looks like a plain host change.
      this.redirectPort = await listen(this.redirect, this.redirectHost, this.port);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') {
        await closeServer(this.origin);
        throw err;
      }
      this.redirectPort = await listen(this.redirect, this.redirectHost, 0);
    }
    this.url = `http://${this.host}:${this.port}`;
    this.redirectUrl = `http://${this.redirectHost}:${this.redirectPort}`;
    this.tokenUrl = `${this.url}/oauth/token`;
  }

  addFile(opts: AddFileOptions): SimFile {
    const fileId = opts.fileId ?? randomUUID();
    if (this.files.has(fileId)) throw new Error(`zoom-sim: file ${fileId} already added`);
    const tokens =
      opts.token === undefined ? [fakeDownloadToken()] : typeof opts.token === 'string' ? [opts.token] : opts.token;
    if (tokens.length === 0) throw new Error('zoom-sim: addFile needs at least one token');
    const entry = new SimFileEntry(
      fileId,
      webhookDownloadUrl(this.url, fileId),
      opts.size,
      tokens[0]!,
      opts.seed ?? fileId,
      opts.fileExtension ?? 'MP4',
    );
    for (const t of tokens) entry.tokens.add(t);
    entry.faults = opts.faults ?? {};
    this.files.set(fileId, entry);
    return entry;
  }

  setFaults(fileId: string, faults: FileFaults | undefined): void {
    const file = this.files.get(fileId);
    if (file === undefined) throw new Error(`zoom-sim: unknown file ${fileId}`);
    file.faults = faults ?? {};
    file.faulted = 0;
  }

  getFile(fileId: string): SimFile | undefined {
    return this.files.get(fileId);
  }

  grantToken(token: string, fileIds: readonly string[]): void {
    for (const id of fileIds) {
      const file = this.files.get(id);
      if (file === undefined) throw new Error(`zoom-sim: unknown file ${id}`);
      file.tokens.add(token);
    }
  }

  issueDownloadToken(fileIds: readonly string[]): string {
    const token = fakeDownloadToken();
    this.grantToken(token, fileIds);
    return token;
  }

  revokeToken(token: string): void {
    this.revoked.add(token);
  }

  setS2SCredentials(creds: S2SCredentials | undefined): void {
    this.credentials = creds;
  }

  isAccessTokenValid(token: string): boolean {
    const expiry = this.accessTokens.get(token);
    return !this.revoked.has(token) && expiry !== undefined && expiry > this.now();
  }

  presignedUrl(fileId: string, ttlSec: number = this.opts.presignTtlSec ?? 300): string {
    const expires = Math.floor(this.now() / 1000) + ttlSec;
    const policy = Buffer.from(
      JSON.stringify({
        Statement: [{ Resource: `/ssr/${fileId}`, Condition: { DateLessThan: { 'AWS:EpochTime': expires } } }],
      }),
    ).toString('base64url');
    const signature = createHmac('sha256', this.presignKey).update(policy).digest('base64url');
    const query = `Policy=${policy}&Signature=${signature}&Key-Pair-Id=${KEY_PAIR_ID}`;
    return `${this.redirectUrl}/ssr/${encodeURIComponent(fileId)}?${query}`;
  }

  stats(): DownloadServerStats {
    const files: Record<string, FileDownloadStats> = {};
    for (const [id, f] of this.files) files[id] = { ...f.counters };
    return { ...this.totals, redirectHostAuthorizations: [...this.totals.redirectHostAuthorizations], files };
  }

  resetStats(): void {
    this.totals = this.emptyTotals();
    for (const f of this.files.values()) f.counters = emptyFileStats();
  }

  async close(): Promise<void> {
    await Promise.all([closeServer(this.origin), closeServer(this.redirect)]);
  }

  private emptyTotals(): Omit<DownloadServerStats, 'files'> {
    return {
      ...emptyFileStats(),
      tokenRequests: 0,
      tokenFailures: 0,
      badSignatures: 0,
      queryTokenUses: 0,
      notFound: 0,
      redirectHostAuthorizations: [],
    };
  }

  /** Bumps a counter on the totals and, when the file is known, on the file. */
  private count(file: SimFileEntry | undefined, key: keyof FileDownloadStats, by = 1): void {
    this.totals[key] += by;
    if (file !== undefined) file.counters[key] += by;
  }

  private dispatch(
    req: IncomingMessage,
    res: ServerResponse,
    handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  ): void {
    handler(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res
      .writeHead(status, {
        'content-type': 'application/json;charset=UTF-8',
        'content-length': Buffer.byteLength(text),
      })
      .end(text);
  }

  private notFound(res: ServerResponse): void {
    this.totals.notFound++;
    this.json(res, 404, { code: 404, message: 'Not found' });
  }

  private tokenValidFor(token: string, file: SimFileEntry): boolean {
    if (this.revoked.has(token)) return false;
    if (file.tokens.has(token)) return true;
    if (this.opts.acceptAccessToken?.(token) === true) return true;
    const expiry = this.accessTokens.get(token);
    return expiry !== undefined && expiry > this.now();
  }

  /* ---------------------------------------------------------------- origin */

  private async handleOrigin(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    if (url.pathname === '/oauth/token') return this.handleToken(req, res, url);
    const m = /^\/rec\/webhook_download\/([^/]+)\/[^/]+$/.exec(url.pathname);
    if (m === null || (req.method !== 'GET' && req.method !== 'HEAD')) return this.notFound(res);
    const file = this.files.get(decodeURIComponent(m[1]!));
    if (file === undefined) {
      // Zoom's REST error code for a missing recording; whether webhook URLs use it is unconfirmed.
      this.totals.notFound++;
      return this.json(res, 404, { code: 3301, message: 'This recording does not exist.' });
    }
    if (url.searchParams.has('access_token')) this.totals.queryTokenUses++;
    const fail = file.faults.failFirst;
    if (fail !== undefined && file.faulted < fail.count) {
      const statuses = fail.statuses ?? [fail.status ?? 503];
      const status = statuses[file.faulted % statuses.length] ?? 503;
      file.faulted++;
      this.count(file, 'faultAnswers');
      const headers: Record<string, string | number> = { 'content-type': 'application/json;charset=UTF-8' };
      if (fail.retryAfterSec !== undefined) headers['retry-after'] = String(fail.retryAfterSec);
      const text = JSON.stringify(
        status === 429
          ? { code: 429, message: 'You have reached the maximum per-second rate limit for this API. Try again later.' }
          : { code: status, message: 'Service unavailable' },
      );
      res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(text) }).end(text);
      return;
    }
    // Only the header counts: since 2023 Zoom wants tokens in headers only (docs/ZOOM-FACTS.md §5).
    const token = bearer(req.headers.authorization);
    if (token === undefined || !this.tokenValidFor(token, file)) {
      this.count(file, 'htmlAnswers');
      if (this.opts.htmlForBadToken === false)
        return this.json(res, 401, { code: 124, message: 'Invalid access token.' });
      // Zoom's failure that looks like success: 200 and an HTML page.
      res.writeHead(200, {
        'content-type': 'text/html;charset=utf-8',
        'content-length': Buffer.byteLength(BAD_TOKEN_HTML),
      });
      res.end(req.method === 'HEAD' ? undefined : BAD_TOKEN_HTML);
      return;
    }
    this.count(file, 'redirects');
    res.writeHead(302, { location: this.presignedUrl(file.fileId), 'content-length': 0 }).end();
  }

  private async handleToken(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (req.method !== 'POST') return this.notFound(res);
    this.totals.tokenRequests++;
    const params = new URLSearchParams(url.search);
    const body = await readBody(req, 64 * 1024);
    // Zoom accepts the parameters in the query string or as a form body (docs/ZOOM-FACTS.md §5).
    if (/application\/x-www-form-urlencoded/i.test(req.headers['content-type'] ?? '')) {
      for (const [k, v] of new URLSearchParams(body)) if (!params.has(k)) params.set(k, v);
    }
    const fail = (status: number, reason: string, error: string): void => {
      this.totals.tokenFailures++;
      this.json(res, status, { reason, error });
    };
    const auth = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    const decoded = auth === null ? '' : Buffer.from(auth[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const creds = this.credentials;
    if (
      creds === undefined ||
      colon < 0 ||
      !safeEqual(decoded.slice(0, colon), creds.clientId) ||
      !safeEqual(decoded.slice(colon + 1), creds.clientSecret)
    ) {
      return fail(401, 'Invalid client_id or client_secret', 'invalid_client');
    }
    if (params.get('grant_type') !== 'account_credentials')
      return fail(400, 'Unsupported grant type', 'unsupported_grant_type');
    // The exact error Zoom gives for a wrong account id is not documented; this one is made up.
    if (params.get('account_id') !== creds.accountId) return fail(400, 'Invalid account_id', 'invalid_request');
    const accessToken = fakeDownloadToken();
    const expiresIn = this.opts.accessTokenTtlSec ?? 3600;
    this.accessTokens.set(accessToken, this.now() + expiresIn * 1000);
    this.json(res, 200, {
      access_token: accessToken,
      token_type: 'bearer',
      expires_in: expiresIn,
      scope: creds.scope ?? 'cloud_recording:read:list_recording_files:admin cloud_recording:read:recording:admin',
    });
  }

  /* ---------------------------------------------------------------- redirect host */

  private async handleRedirectHost(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.redirectUrl);
    const m = /^\/ssr\/([^/]+)$/.exec(url.pathname);
    const file = m === null ? undefined : this.files.get(decodeURIComponent(m[1]!));
    const authorization = req.headers.authorization;
    if (authorization !== undefined) {
      // The URL is pre-signed: a client that forwards the Zoom credential here leaks it to a third host.
      this.count(file, 'authHeaderLeaks');
      this.totals.redirectHostAuthorizations.push(authorization);
      return this.json(res, 400, { code: 'InvalidArgument', message: 'Only one auth mechanism allowed' });
    }
    if (m === null || (req.method !== 'GET' && req.method !== 'HEAD')) return this.notFound(res);
    if (file === undefined || !this.signatureValid(file.fileId, url.searchParams)) {
      this.totals.badSignatures++;
      const xml =
        '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access ' +
        'denied</Message></Error>';
      res.writeHead(403, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(xml) }).end(xml);
      return;
    }
    await this.serveFile(req, res, file);
  }

  private signatureValid(fileId: string, params: URLSearchParams): boolean {
    const policy = params.get('Policy');
    const signature = params.get('Signature');
    if (policy === null || signature === null || params.get('Key-Pair-Id') !== KEY_PAIR_ID) return false;
    const expected = createHmac('sha256', this.presignKey).update(policy).digest('base64url');
    if (!safeEqual(signature, expected)) return false;
    try {
      const statement = (
        JSON.parse(Buffer.from(policy, 'base64url').toString('utf8')) as {
          Statement: Array<{ Resource: string; Condition: { DateLessThan: { 'AWS:EpochTime': number } } }>;
        }
      ).Statement[0]!;
      return (
        statement.Resource === `/ssr/${fileId}` && statement.Condition.DateLessThan['AWS:EpochTime'] * 1000 > this.now()
      );
    } catch {
      return false;
    }
  }

  private async serveFile(req: IncomingMessage, res: ServerResponse, file: SimFileEntry): Promise<void> {
    let start = 0;
    let end = file.size;
    const range = req.headers.range === undefined ? undefined : parseRange(req.headers.range, file.size);
    if (range === 'unsatisfiable') {
      res.writeHead(416, { 'content-range': `bytes */${file.size}`, 'content-length': 0 }).end();
      return;
    }
    if (range !== undefined) ({ start, end } = range);
    const headers: Record<string, string | number> = {
      'content-type': file.contentType,
      'content-length': end - start,
      'accept-ranges': 'bytes',
      // RFC 6266: header values are ASCII, so a non-ASCII file id goes in filename* (percent-encoded UTF-8).
      'content-disposition': contentDisposition(`${file.fileId}.${file.fileExtension.toLowerCase()}`),
    };
    if (range !== undefined) headers['content-range'] = `bytes ${start}-${end - 1}/${file.size}`;
    else if (file.faults.chunked) delete headers['content-length'];
    res.writeHead(range === undefined ? 200 : 206, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    if (range !== undefined) this.count(file, 'rangeRequests');
    this.count(file, 'downloadsStarted');
    const bodyRequestIndex = file.bodyRequests++;
    const policy = this.opts.resetAfterBytes;
    const resetAfter =
      typeof policy === 'function'
        ? policy({ fileId: file.fileId, size: file.size, bodyRequestIndex, rangeStart: start })
        : policy !== undefined && bodyRequestIndex === 0
          ? policy
          : undefined;
    const stopAt = resetAfter !== undefined && resetAfter < end - start ? start + Math.max(0, resetAfter) : end;

    // A write racing a client disconnect reports its error through the write callback; this listener
    // only stops such an error from being re-thrown as an unhandled 'error' event.
    res.on('error', () => undefined);
    let closed = false;
    const closedPromise = new Promise<void>((resolve) =>
      res.once('close', () => {
        closed = true;
        resolve();
      }),
    );
    const throttle = this.opts.throttleBytesPerSec;
    // Small pieces under a throttle keep the rate smooth (about 20 writes per second).
    const piece =
      throttle === undefined
        ? CONTENT_CHUNK_SIZE
        : Math.max(1024, Math.min(CONTENT_CHUNK_SIZE, Math.floor(throttle / 20)));
    // A few reusable buffers: a buffer returns to the pool once the kernel has its bytes, so memory per
    // response stays at a few chunks whatever the file size, without waiting for the GC.
    const pool: Buffer[] = [];
    const t0 = performance.now();
    let lastFlush: Promise<void> = Promise.resolve();
    let pos = start;
    while (pos < stopAt && !closed) {
      const buf = pool.pop() ?? Buffer.allocUnsafeSlow(CONTENT_CHUNK_SIZE);
      const n = Math.min(piece, stopAt - pos);
      file.content.read(pos, buf.subarray(0, n));
      pos += n;
      let drained = true;
      lastFlush = new Promise<void>((resolve) => {
        drained = res.write(buf.subarray(0, n), (err) => {
          if (err === undefined || err === null) this.count(file, 'bytesServed', n);
          pool.push(buf);
          resolve();
        });
      });
      if (!drained) await Promise.race([new Promise<void>((resolve) => res.once('drain', resolve)), closedPromise]);
      if (throttle !== undefined) {
        const due = t0 + ((pos - start) / throttle) * 1000;
        const wait = due - performance.now();
        if (wait > 0) await Promise.race([sleep(wait), closedPromise]);
      }
    }
    if (closed) {
      this.count(file, 'downloadsAborted');
      return;
    }
    if (stopAt < end) {
      // Let the bytes before the cut reach the client, then drop the connection mid-body.
      await Promise.race([lastFlush, closedPromise]);
      res.socket?.destroy();
      this.count(file, 'resets');
      this.count(file, 'downloadsAborted');
      return;
    }
    res.end();
    await closedPromise;
    this.count(file, res.writableFinished ? 'downloadsCompleted' : 'downloadsAborted');
  }
}

/** Starts Zoom's download side on loopback; close() it when done. */
export async function startDownloadServer(opts: DownloadServerOptions = {}): Promise<DownloadServer> {
  const server = new ZoomDownloadServer(opts);
  await server.start();
  return server;
}
