import { type IncomingMessage, type ServerResponse } from 'node:http';
import { type Readable } from 'node:stream';
import { DownloadError } from './download-error';
import {
  serveBytes,
  serveBytesThenReset,
  sha256,
  startTestServer,
  testContent,
  type TestServer,
} from './testing/test-http-server';
import { ZoomDownloader, presignedUrlExpired, type ZoomDownloaderOptions } from './zoom-downloader';
import type { DownloadRequest, DownloadToken } from './zoom-download.port';

const WEBHOOK_TOKEN = 'webhook-token-SECRET-aaa';
const FRESHER_TOKEN = 'fresher-token-SECRET-bbb';
const CLIENT_SECRET = 'client-secret-SECRET-ccc';
const PRESIGNED_QUERY = 'Policy=cG9saWN5&Signature=SIG-SECRET-ddd&Key-Pair-Id=K2ZOOMSIM';
const SECRETS = [
  WEBHOOK_TOKEN,
  FRESHER_TOKEN,
  CLIENT_SECRET,
  'SIG-SECRET',
  's2s-access',
  'Signature=',
  'access_token',
  'Bearer',
  '?',
];

const NOW = 1_750_000_000_000;
const HOUR = 3_600_000;
const LOOPBACK = ['127.0.0.1', '127.0.0.2'];

/** What users rely on (SPEC §7 invariant 7): no token, secret or signed query in any error text. */
function expectNoSecrets(err: unknown): void {
  const text = `${err instanceof Error ? err.message : ''} ${String(err)}`;
  for (const secret of SECRETS) expect(text).not.toContain(secret);
}

async function failureOf(promise: Promise<unknown>): Promise<DownloadError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DownloadError);
  expectNoSecrets(err);
  return err as DownloadError;
}

function readAll(body: Readable): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    body.on('data', (c: Buffer) => chunks.push(c));
    body.once('end', () => resolve(Buffer.concat(chunks)));
    body.once('error', reject);
  });
}

function webhookToken(token = WEBHOOK_TOKEN, ageMs = HOUR): DownloadToken {
  return { token, source: 'webhook', receivedAtMs: NOW - ageMs };
}

function bearerOf(req: IncomingMessage): string | undefined {
  const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
  return m?.[1];
}

describe('ZoomDownloader', () => {
  let origin: TestServer; // plays us02web.zoom.us on 127.0.0.1
  let presigned: TestServer; // plays ssrweb.zoom.us on 127.0.0.2
  const content = testContent(256 * 1024, 7);
  const contentSha = sha256(content);

  beforeEach(async () => {
    origin = await startTestServer('127.0.0.1');
    presigned = await startTestServer('127.0.0.2');
  });
  afterEach(async () => {
    await origin.close();
    await presigned.close();
  });

  function downloader(extra: Partial<ZoomDownloaderOptions> = {}): ZoomDownloader {
    return new ZoomDownloader({
      allowedHosts: LOOPBACK,
      backoff: { baseMs: 1, maxMs: 5 },
      connectTimeoutMs: 2_000,
      idleTimeoutMs: 2_000,
      now: () => NOW,
      ...extra,
    });
  }

  function request(extra: Partial<DownloadRequest> = {}): DownloadRequest {
    return {
      url: `${origin.origin}/rec/webhook_download/file-1/opaque`,
      expectedSize: content.length,
      tokens: [webhookToken()],
      ...extra,
    };
  }

  /** Zoom's shape: the origin checks the Bearer and answers 302 to a pre-signed URL on another host. */
  function redirectWithToken(
    accepted: readonly string[],
    target = `${presigned.origin}/ssr/file-1?${PRESIGNED_QUERY}`,
  ) {
    return (req: IncomingMessage, res: ServerResponse): void => {
      if (!accepted.includes(bearerOf(req) ?? '')) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end('{"code":124,"message":"Invalid access token."}');
        return;
      }
      res.writeHead(302, { location: target });
      res.end();
    };
  }

  describe('allow-list and private addresses (no SSRF)', () => {
    it('refuses a host that is not allowed and never connects to it', async () => {
      const err = await failureOf(
        downloader({ allowedHosts: ['127.0.0.1'] }).open(
          request({ url: `${presigned.origin}/anything?${PRESIGNED_QUERY}` }),
        ),
      );

      expect(err).toMatchObject({ code: 'download_forbidden_host', retryable: false, host: '127.0.0.2' });
      expect(presigned.connections).toBe(0);
    });

    it('refuses plain http to an allowed name that is not a listed loopback host, before any DNS query', async () => {
      const resolve = jest.fn(async () => ['8.8.8.8']);

      const err = await failureOf(
        downloader({ allowedHosts: ['*.zoom.us'], resolve }).open(request({ url: 'http://us02web.zoom.us/rec/x' })),
      );

      expect(err).toMatchObject({ code: 'download_forbidden_host', host: 'us02web.zoom.us' });
      expect(resolve).not.toHaveBeenCalled();
    });

    it('refuses an allowed name that resolves to a private address, and connects nowhere', async () => {
      const resolve = jest.fn(async () => ['127.0.0.2']); // where a server is listening

      const err = await failureOf(
        downloader({ allowedHosts: ['*.zoom.us'], resolve }).open(
          request({ url: `https://us02web.zoom.us:${presigned.port}/rec/x` }),
        ),
      );

      expect(err.code).toBe('download_forbidden_host');
      expect(err.message).toMatch(/private/);
      expect(presigned.connections).toBe(0);
    });

    it('refuses a name when ANY of its addresses is private (169.254.169.254 among public ones)', async () => {
      const resolve = async (): Promise<string[]> => ['8.8.8.8', '169.254.169.254'];

      const err = await failureOf(
        downloader({ allowedHosts: ['*.zoom.us'], resolve }).open(request({ url: 'https://us02web.zoom.us/rec/x' })),
      );

      expect(err).toMatchObject({ code: 'download_forbidden_host', retryable: false });
      expect(err.message).toContain('169.254.169.254');
    });

    it('refuses a redirect to a host that is not allowed; the target receives nothing', async () => {
      origin.handler = redirectWithToken([WEBHOOK_TOKEN]);

      const err = await failureOf(downloader({ allowedHosts: ['127.0.0.1'] }).open(request()));

      expect(err).toMatchObject({ code: 'download_forbidden_host', host: '127.0.0.2' });
      expect(origin.requests).toHaveLength(1);
      expect(presigned.connections).toBe(0);
    });

    it.each([
      ['plain http', 'http://169.254.169.254/latest/meta-data/iam/security-credentials/', /plain http/],
      ['https', 'https://169.254.169.254/latest/meta-data/iam/security-credentials/', /private/],
    ])(
      'refuses a redirect to cloud metadata (%s), even when 169.254.169.254 is listed',
      async (_scheme, target, reason) => {
        origin.handler = redirectWithToken([WEBHOOK_TOKEN], target);

        const err = await failureOf(downloader({ allowedHosts: [...LOOPBACK, '169.254.169.254'] }).open(request()));

        expect(err).toMatchObject({ code: 'download_forbidden_host', host: '169.254.169.254' });
        expect(err.message).toMatch(reason);
      },
    );

    it('refuses a redirect to an allowed name resolving to a private address; nothing reaches it', async () => {
      origin.handler = redirectWithToken(
        [WEBHOOK_TOKEN],
        `https://ssrweb.zoom.us:${presigned.port}/ssr/file-1?${PRESIGNED_QUERY}`,
      );
      const resolve = jest.fn(async () => ['127.0.0.2']);

      const err = await failureOf(downloader({ allowedHosts: [...LOOPBACK, '*.zoom.us'], resolve }).open(request()));

      expect(err).toMatchObject({ code: 'download_forbidden_host', host: 'ssrweb.zoom.us' });
      expect(err.message).toMatch(/private/);
      expect(resolve).toHaveBeenCalledWith('ssrweb.zoom.us');
      expect(presigned.connections).toBe(0);
    });

    it('connects to the address it checked (no second DNS answer) and keeps the name in the Host header', async () => {
      // System DNS would say 127.0.0.1, where nothing listens on this port: success proves the pin.
      presigned.handler = (req, res) => serveBytes(req, res, content);
      const resolve = jest.fn(async () => ['127.0.0.2']);

      const stream = await downloader({ allowedHosts: ['localhost'], resolve }).open(
        request({ url: `http://localhost:${presigned.port}/file` }),
      );

      expect(sha256(await readAll(stream.body))).toBe(contentSha);
      expect(presigned.requests[0]?.headers.host).toBe(`localhost:${presigned.port}`);
      expect(resolve).toHaveBeenCalledTimes(1);
    });
  });

  describe('credentials and redirects', () => {
    it('sends the token as a Bearer header to the first hop only; the pre-signed host never sees it', async () => {
      origin.handler = redirectWithToken([WEBHOOK_TOKEN]);
      presigned.handler = (req, res) => serveBytes(req, res, content);

      const stream = await downloader().open(request());
      const bytes = await readAll(stream.body);

      expect(sha256(bytes)).toBe(contentSha);
      expect(stream.contentType).toBe('video/mp4');
      expect(origin.requests[0]?.headers.authorization).toBe(`Bearer ${WEBHOOK_TOKEN}`);
      expect(origin.requests[0]?.url).not.toMatch(/access_token/);
      expect(presigned.requests).toHaveLength(1);
      expect(presigned.requests[0]?.headers.authorization).toBeUndefined();
      expect(presigned.requests[0]?.url).toBe(`/ssr/file-1?${PRESIGNED_QUERY}`);
      expect(stream.stats()).toEqual({ attempts: 1, resumes: 0, bytes: content.length, tokenSource: 'webhook' });
    });

    it('resolves a relative Location against the current URL', async () => {
      origin.handler = (req, res) => {
        if (req.url === '/moved') return serveBytes(req, res, content);
        res.writeHead(307, { location: '/moved' });
        res.end();
      };

      const stream = await downloader().open(request());

      expect(sha256(await readAll(stream.body))).toBe(contentSha);
      expect(origin.requests.map((r) => r.url)).toEqual(['/rec/webhook_download/file-1/opaque', '/moved']);
      expect(origin.requests[1]?.headers.authorization).toBeUndefined(); // even on the same host
    });

    it('stops after maxRedirects hops', async () => {
      origin.handler = (_req, res) => {
        res.writeHead(302, { location: `/loop?${PRESIGNED_QUERY}` });
        res.end();
      };

      const err = await failureOf(downloader({ maxRedirects: 3 }).open(request()));

      expect(err).toMatchObject({ code: 'download_http_error', retryable: false });
      expect(origin.requests).toHaveLength(4);
    });
  });

  describe('answers that look like success but are not the file', () => {
    it("rejects Zoom's 200 text/html page and names the missing S2S fallback", async () => {
      origin.handler = (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html;charset=utf-8' });
        res.end('<html><body>Only the host can download this recording.</body></html>');
      };

      const err = await failureOf(downloader().open(request()));

      expect(err).toMatchObject({ code: 'download_html_response', retryable: false, host: '127.0.0.1' });
      expect(err.message).toMatch(/ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET/);
      expect(origin.requests).toHaveLength(1);
    });

    it('rejects a 200 whose content-length differs from file_size before streaming anything', async () => {
      origin.handler = (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '59' });
        res.end('{"code":124,"message":"Access token is expired.","x":"..."}');
      };

      const err = await failureOf(downloader().open(request()));

      expect(err).toMatchObject({ code: 'download_size_mismatch', retryable: false });
      expect(origin.requests).toHaveLength(1);
    });

    it('errors the body when the server sends more bytes than file_size', async () => {
      origin.handler = (_req, res) => {
        res.writeHead(200, { 'content-type': 'video/mp4' }); // chunked: no length to check up front
        res.end(Buffer.concat([content, Buffer.from('extra')]));
      };

      const stream = await downloader().open(request());
      const err = await failureOf(readAll(stream.body));

      expect(err.code).toBe('download_size_mismatch');
    });

    it('does not retry a 404', async () => {
      origin.handler = (_req, res) => {
        res.writeHead(404);
        res.end();
      };

      const err = await failureOf(downloader().open(request()));

      expect(err).toMatchObject({ code: 'download_http_error', retryable: false, status: 404 });
      expect(origin.requests).toHaveLength(1);
    });

    it('retries 5xx and 429 with backoff, then succeeds', async () => {
      origin.handler = (req, res, index) => {
        if (index < 2) {
          res.writeHead(index === 0 ? 503 : 429);
          res.end();
          return;
        }
        serveBytes(req, res, content);
      };

      const stream = await downloader().open(request());

      expect(sha256(await readAll(stream.body))).toBe(contentSha);
      expect(stream.stats()).toMatchObject({ attempts: 3, resumes: 0 });
    });

    it('hands a 429/503 with Retry-After before any byte back to the caller at once, with the delay', async () => {
      origin.handler = (_req, res, index) => {
        res.writeHead(index === 0 ? 429 : 503, {
          'retry-after': index === 0 ? '10' : new Date(NOW + 30_000).toUTCString(),
        });
        res.end();
      };

      const limited = await failureOf(downloader().open(request()));
      expect(limited).toMatchObject({
        code: 'download_http_error',
        retryable: true,
        status: 429,
        retryAfterMs: 10_000,
      });
      const down = await failureOf(downloader().open(request()));
      expect(down).toMatchObject({ code: 'download_http_error', retryable: true, status: 503, retryAfterMs: 30_000 });
      expect(origin.requests).toHaveLength(2); // one request each: no burst of retries against a rate limit
    });

    it('gives up after maxAttempts failures in a row and reports the last error', async () => {
      origin.handler = (_req, res) => {
        res.writeHead(502);
        res.end();
      };

      const err = await failureOf(downloader({ maxAttempts: 3 }).open(request()));

      expect(err).toMatchObject({ code: 'download_http_error', retryable: true, status: 502 });
      expect(err.message).toMatch(/gave up after 3/);
      expect(origin.requests).toHaveLength(3);
    });
  });

  describe('files Zoom gave no file_size (expectedSize undefined)', () => {
    const unknown = (): DownloadRequest => request({ expectedSize: undefined });

    it('holds the body to the Content-Length the server declares', async () => {
      origin.handler = redirectWithToken([WEBHOOK_TOKEN]);
      presigned.handler = (req, res) => serveBytes(req, res, content, 'text/vtt');

      const stream = await downloader().open(unknown());

      expect(sha256(await readAll(stream.body))).toBe(contentSha);
      expect(stream.stats()).toMatchObject({ bytes: content.length, attempts: 1 });
      expect(stream.contentType).toBe('text/vtt');
    });

    it('takes a chunked body without any declared size as complete when it ends cleanly', async () => {
      origin.handler = (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' }); // chunked: no length anywhere
        res.write(content.subarray(0, 1_000));
        res.end(content.subarray(1_000));
      };

      const stream = await downloader().open(unknown());

      expect(sha256(await readAll(stream.body))).toBe(contentSha);
      expect(stream.stats()).toMatchObject({ bytes: content.length, attempts: 1, resumes: 0 });
    });

    it('resumes a chunked body that breaks off, and learns the size from the Content-Range total', async () => {
      origin.handler = redirectWithToken([WEBHOOK_TOKEN]);
      presigned.handler = (req, res, index) => {
        if (index > 0) return serveBytes(req, res, content);
        res.writeHead(200, { 'content-type': 'text/plain' }); // chunked, then the connection drops mid-body
        res.write(content.subarray(0, 90_000), () => setTimeout(() => res.socket?.destroy(), 20));
      };

      const stream = await downloader().open(unknown());
      const bytes = await readAll(stream.body);

      expect(sha256(bytes)).toBe(contentSha);
      expect(presigned.requests[1]?.headers.range).toBe('bytes=90000-');
      expect(stream.stats()).toMatchObject({ bytes: content.length, resumes: 1 });
    });

    it('refuses a resume whose Content-Range total disagrees with the first Content-Length, permanently', async () => {
      origin.handler = redirectWithToken([WEBHOOK_TOKEN]);
      presigned.handler = (req, res, index) => {
        if (index === 0) return serveBytesThenReset(req, res, content, 60_000);
        const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1]);
        res.writeHead(206, {
          'content-type': 'video/mp4',
          'content-range': `bytes ${start}-${content.length + 9}/${content.length + 10}`,
          'content-length': String(content.length + 10 - start),
        });
        res.end(Buffer.alloc(content.length + 10 - start));
      };

      const stream = await downloader().open(unknown());
      const err = await readAll(stream.body).then(
        () => undefined,
        (e: unknown) => e,
      );

      expect(err).toMatchObject({ code: 'download_size_mismatch', retryable: false });
      expect((err as Error).message).toContain(`but the first Content-Length is ${content.length}`);
    });
  });

  describe('resuming broken transfers', () => {
    it('resumes a short body with Range at the last redirect target and yields the exact bytes', async () => {
      origin.handler = redirectWithToken([WEBHOOK_TOKEN]);
      presigned.handler = (req, res, index) => {
        if (index === 0) {
          res.writeHead(200, { 'content-type': 'video/mp4' }); // chunked, ends cleanly but short
          res.end(content.subarray(0, 100_000));
          return;
        }
        serveBytes(req, res, content);
      };

      const stream = await downloader().open(request());
      const bytes = await readAll(stream.body);

      expect(bytes).toHaveLength(content.length);
      expect(sha256(bytes)).toBe(contentSha);
      expect(presigned.requests[1]?.headers.range).toBe('bytes=100000-');
      expect(presigned.requests[1]?.headers.authorization).toBeUndefined();
      expect(origin.requests).toHaveLength(1); // the pre-signed URL was still good: no new token round trip
      expect(stream.stats()).toMatchObject({ attempts: 2, resumes: 1, bytes: content.length });
    });

    it(
      'reports a chunked body that has fewer bytes than file_size as a permanent size mismatch, not a network ' +
        'error',
      async () => {
        origin.handler = redirectWithToken([WEBHOOK_TOKEN]);
        const served = content.subarray(0, 100_000);
        presigned.handler = (req, res) => {
          if (req.headers.range !== undefined) {
            res.writeHead(416, { 'content-range': `bytes */${served.length}` });
            res.end();
            return;
          }
          res.writeHead(200, { 'content-type': 'video/mp4' }); // chunked: no Content-Length to compare
          res.end(served);
        };

        const stream = await downloader().open(request());
        const err = await readAll(stream.body).then(
          () => undefined,
          (e: unknown) => e,
        );

        expect(err).toMatchObject({ code: 'download_size_mismatch', retryable: false, status: 416 });
        expect((err as Error).message).toContain(`has 100000 bytes but file_size is ${content.length}`);
      },
    );

    it('survives two mid-body resets (resumes = 2)', async () => {
      origin.handler = redirectWithToken([WEBHOOK_TOKEN]);
      presigned.handler = (req, res, index) => {
        if (index < 2) serveBytesThenReset(req, res, content, 50_000);
        else serveBytes(req, res, content);
      };

      const stream = await downloader().open(request());
      const bytes = await readAll(stream.body);

      expect(sha256(bytes)).toBe(contentSha);
      expect(presigned.requests.map((r) => r.headers.range)).toEqual([undefined, 'bytes=50000-', 'bytes=100000-']);
      expect(stream.stats()).toEqual({ attempts: 3, resumes: 2, bytes: content.length, tokenSource: 'webhook' });
    });

    it('restarts from the first hop with the token and a Range when the pre-signed URL no longer works', async () => {
      origin.handler = redirectWithToken([WEBHOOK_TOKEN]);
      presigned.handler = (req, res, index) => {
        if (index === 0) return serveBytesThenReset(req, res, content, 80_000);
        if (index === 1) {
          res.writeHead(403, { 'content-type': 'application/xml' }); // signature expired
          res.end('<Error>Request has expired</Error>');
          return;
        }
        serveBytes(req, res, content);
      };

      const stream = await downloader().open(request());

      expect(sha256(await readAll(stream.body))).toBe(contentSha);
      expect(origin.requests).toHaveLength(2);
      expect(origin.requests[1]?.headers).toMatchObject({
        authorization: `Bearer ${WEBHOOK_TOKEN}`,
        range: 'bytes=80000-',
      });
      expect(presigned.requests[2]?.headers.range).toBe('bytes=80000-');
    });

    it('skips the bytes it already has when a server ignores Range and answers 200', async () => {
      origin.handler = (req, res, index) => {
        if (index === 0) return serveBytesThenReset(req, res, content, 70_000);
        res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(content.length) });
        res.end(content);
      };

      const stream = await downloader().open(request());

      expect(sha256(await readAll(stream.body))).toBe(contentSha);
      expect(origin.requests[1]?.headers.range).toBe('bytes=70000-');
    });

    it('treats a stall longer than idleTimeoutMs as a break and resumes', async () => {
      origin.handler = (req, res, index) => {
        if (index > 0) return serveBytes(req, res, content);
        res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(content.length) });
        res.write(content.subarray(0, 30_000)); // then silence, connection left open
      };

      const stream = await downloader({ idleTimeoutMs: 200 }).open(request());

      expect(sha256(await readAll(stream.body))).toBe(contentSha);
      expect(origin.requests[1]?.headers.range).toBe('bytes=30000-');
    });

    it('never ends the body short: it errors when every resume fails', async () => {
      origin.handler = (req, res, index) => {
        if (index === 0) return serveBytesThenReset(req, res, content, 40_000);
        res.writeHead(503);
        res.end();
      };

      const stream = await downloader({ maxAttempts: 3 }).open(request());
      const err = await failureOf(readAll(stream.body));

      expect(err).toMatchObject({ code: 'download_http_error', retryable: true });
      expect(stream.stats().bytes).toBe(40_000);
      // The break after progress starts the count: one broken transfer plus two failed resumes.
      expect(origin.requests.map((r) => r.headers.range)).toEqual([undefined, 'bytes=40000-', 'bytes=40000-']);
    });
  });

  describe('token choice and Server-to-Server OAuth', () => {
    let oauth: TestServer;
    let issued: string[];

    beforeEach(async () => {
      issued = [];
      oauth = await startTestServer('127.0.0.1', (_req, res) => {
        const token = `s2s-access-${issued.length + 1}`;
        issued.push(token);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ access_token: token, token_type: 'bearer', expires_in: 3600 }));
      });
    });
    afterEach(() => oauth.close());

    const s2s = (): ZoomDownloaderOptions['s2s'] => ({
      accountId: 'acct-1',
      clientId: 'client-1',
      clientSecret: CLIENT_SECRET,
      tokenUrl: `${oauth.origin}/oauth/token`,
    });

    it('skips an expired webhook token, fetches one S2S token, uses it and caches it for the next', async () => {
      origin.handler = redirectWithToken(['s2s-access-1']);
      presigned.handler = (req, res) => serveBytes(req, res, content);
      const d = downloader({ s2s: s2s() });
      const stale = webhookToken(WEBHOOK_TOKEN, 60 * HOUR); // the 2.5-day-late webhook of docs/USER-REPORTS.md #11

      const first = await d.open(request({ tokens: [stale] }));
      expect(sha256(await readAll(first.body))).toBe(contentSha);
      const second = await d.open(request({ tokens: [stale] }));
      expect(sha256(await readAll(second.body))).toBe(contentSha);

      expect(oauth.requests).toHaveLength(1);
      expect(origin.requests.map((r) => r.headers.authorization)).toEqual([
        'Bearer s2s-access-1',
        'Bearer s2s-access-1',
      ]);
      expect(first.stats().tokenSource).toBe('s2s');
    });

    it('falls back to the fresher copy when the webhook token is rejected, without S2S', async () => {
      origin.handler = redirectWithToken([FRESHER_TOKEN]);
      presigned.handler = (req, res) => serveBytes(req, res, content);

      const stream = await downloader().open(
        request({ tokens: [webhookToken(), { token: FRESHER_TOKEN, source: 'fresher_copy', receivedAtMs: NOW }] }),
      );

      expect(sha256(await readAll(stream.body))).toBe(contentSha);
      expect(stream.stats()).toMatchObject({ tokenSource: 'fresher_copy', attempts: 2 });
    });

    it("falls back to S2S when the token gets Zoom's html page", async () => {
      origin.handler = (req, res) => {
        if (bearerOf(req) === 's2s-access-1') return redirectWithToken(['s2s-access-1'])(req, res);
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html>Only the host can download this recording.</html>');
      };
      presigned.handler = (req, res) => serveBytes(req, res, content);

      const stream = await downloader({ s2s: s2s() }).open(request());

      expect(sha256(await readAll(stream.body))).toBe(contentSha);
      expect(stream.stats().tokenSource).toBe('s2s');
    });

    it('retries once with a new S2S token after a rejection', async () => {
      origin.handler = redirectWithToken(['s2s-access-2']);
      presigned.handler = (req, res) => serveBytes(req, res, content);

      const stream = await downloader({ s2s: s2s() }).open(request({ tokens: [] }));

      expect(sha256(await readAll(stream.body))).toBe(contentSha);
      expect(issued).toEqual(['s2s-access-1', 's2s-access-2']);
    });

    it('gives up with download_unauthorized when a fresh S2S token is rejected too', async () => {
      origin.handler = redirectWithToken([]);

      const err = await failureOf(downloader({ s2s: s2s() }).open(request()));

      expect(err).toMatchObject({ code: 'download_unauthorized', retryable: false });
      expect(issued).toHaveLength(2);
      expect(origin.requests).toHaveLength(3); // webhook token, S2S token, fresh S2S token
    });

    it('switches to S2S when the token expires in the middle of a download', async () => {
      origin.handler = (req, res, index) => {
        if (index === 0) return serveBytesThenReset(req, res, content, 60_000);
        if (bearerOf(req) !== 's2s-access-1') {
          res.writeHead(401);
          res.end();
          return;
        }
        serveBytes(req, res, content);
      };

      const stream = await downloader({ s2s: s2s() }).open(request());

      expect(sha256(await readAll(stream.body))).toBe(contentSha);
      expect(origin.requests[2]?.headers).toMatchObject({
        authorization: 'Bearer s2s-access-1',
        range: 'bytes=60000-',
      });
      expect(stream.stats()).toMatchObject({ tokenSource: 's2s', resumes: 2 });
    });

    it('without S2S, a rejected token is download_unauthorized, saying what to configure', async () => {
      origin.handler = redirectWithToken([]);

      const err = await failureOf(downloader().open(request()));

      expect(err).toMatchObject({ code: 'download_unauthorized', retryable: false, host: '127.0.0.1', status: 401 });
      expect(err.message).toBe(
        '127.0.0.1: the download token was rejected or expired and no Server-to-Server OAuth credentials are ' +
          'configured (ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET)',
      );
      expect(origin.requests).toHaveLength(1);
    });

    it('without S2S and without any token, fails before connecting', async () => {
      const err = await failureOf(downloader().open(request({ tokens: [] })));

      expect(err).toMatchObject({ code: 'download_unauthorized', retryable: false });
      expect(origin.connections).toBe(0);
    });

    it('keeps trying an old webhook token when there is no S2S fallback', async () => {
      origin.handler = redirectWithToken([WEBHOOK_TOKEN]);
      presigned.handler = (req, res) => serveBytes(req, res, content);

      const stream = await downloader().open(request({ tokens: [webhookToken(WEBHOOK_TOKEN, 30 * HOUR)] }));

      expect(sha256(await readAll(stream.body))).toBe(contentSha);
    });
  });

  describe('abort', () => {
    it('destroys the socket when the signal aborts mid-body and errors the body', async () => {
      origin.handler = (_req, res) => {
        res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(content.length) });
        res.write(content.subarray(0, 10_000)); // then hold the connection open
      };
      const controller = new AbortController();

      const stream = await downloader().open(request({ signal: controller.signal }));
      const result = readAll(stream.body).catch((e: unknown) => e);
      controller.abort();

      expect(await result).toMatchObject({ name: 'AbortError' });
      await waitFor(() => origin.closedSockets === 1);
    });

    it('closes the connection when the consumer destroys the body', async () => {
      origin.handler = (_req, res) => {
        res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(content.length) });
        res.write(content.subarray(0, 10_000));
      };

      const stream = await downloader().open(request());
      stream.body.destroy();

      await waitFor(() => origin.closedSockets === 1);
    });

    it('rejects at once when the signal is already aborted', async () => {
      const controller = new AbortController();
      controller.abort();

      await expect(downloader().open(request({ signal: controller.signal }))).rejects.toMatchObject({
        name: 'AbortError',
      });
      expect(origin.connections).toBe(0);
    });
  });
});

describe('presignedUrlExpired', () => {
  const now = Date.UTC(2025, 1, 26, 19, 0, 0);

  it.each<[string, boolean]>([
    [`https://ssrweb.zoom.us/f?Expires=${now / 1000 + 600}&Signature=x`, false],
    [`https://ssrweb.zoom.us/f?Expires=${now / 1000 - 1}&Signature=x`, true],
    ['https://bucket.s3.amazonaws.com/f?X-Amz-Date=20250226T185500Z&X-Amz-Expires=600&X-Amz-Signature=x', false],
    ['https://bucket.s3.amazonaws.com/f?X-Amz-Date=20250226T180000Z&X-Amz-Expires=600&X-Amz-Signature=x', true],
    ['https://ssrweb.zoom.us/f?Policy=abc&Signature=x', false], // unknown: try it
  ])('%s → %s', (url, expired) => {
    expect(presignedUrlExpired(new URL(url), now)).toBe(expired);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
