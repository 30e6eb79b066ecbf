import { DownloadError } from './download-error';
import { S2STokenProvider } from './s2s-token-provider';
import { startTestServer, type TestServer } from './testing/test-http-server';

const CLIENT_SECRET = 'client-secret-s3cr3t';
const creds = { accountId: 'acct-123', clientId: 'client-abc', clientSecret: CLIENT_SECRET };

describe('S2STokenProvider', () => {
  let oauth: TestServer;
  let issued = 0;

  beforeEach(async () => {
    issued = 0;
    oauth = await startTestServer('127.0.0.1', (_req, res) => {
      issued += 1;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          access_token: `s2s-access-${issued}`,
          token_type: 'bearer',
          expires_in: 3600,
          scope: 'cloud_recording:read',
        }),
      );
    });
  });
  afterEach(() => oauth.close());

  it('asks for an account_credentials token with Basic client credentials in a POST', async () => {
    const provider = new S2STokenProvider({ ...creds, tokenUrl: `${oauth.origin}/oauth/token` });

    await expect(provider.getToken()).resolves.toBe('s2s-access-1');

    const [request] = oauth.requests;
    expect(request?.method).toBe('POST');
    const url = new URL(request!.url, oauth.origin);
    expect(url.pathname).toBe('/oauth/token');
    expect(url.searchParams.get('grant_type')).toBe('account_credentials');
    expect(url.searchParams.get('account_id')).toBe('acct-123');
    expect(request?.headers.authorization).toBe(
      `Basic ${Buffer.from(`client-abc:${CLIENT_SECRET}`).toString('base64')}`,
    );
  });

  it('caches the token until 60 s before it expires, then fetches a new one', async () => {
    let now = 1_000_000;
    const provider = new S2STokenProvider({ ...creds, tokenUrl: `${oauth.origin}/oauth/token`, now: () => now });

    expect(await provider.getToken()).toBe('s2s-access-1');
    now += 3_539_000; // 61 s left
    expect(await provider.getToken()).toBe('s2s-access-1');
    now += 2_000; // 59 s left: treated as expired
    expect(await provider.getToken()).toBe('s2s-access-2');
    expect(issued).toBe(2);
  });

  it('lets concurrent callers share one token request', async () => {
    const provider = new S2STokenProvider({ ...creds, tokenUrl: `${oauth.origin}/oauth/token` });

    const tokens = await Promise.all(Array.from({ length: 10 }, () => provider.getToken()));

    expect(new Set(tokens)).toEqual(new Set(['s2s-access-1']));
    expect(issued).toBe(1);
  });

  it('fetches a new token after invalidate(), but ignores an invalidate for an older token', async () => {
    const provider = new S2STokenProvider({ ...creds, tokenUrl: `${oauth.origin}/oauth/token` });

    const first = await provider.getToken();
    provider.invalidate(first);
    const second = await provider.getToken();
    provider.invalidate(first); // a slower caller reporting the token that was already replaced

    expect(second).toBe('s2s-access-2');
    expect(await provider.getToken()).toBe('s2s-access-2');
    expect(issued).toBe(2);
  });

  it('reports refused credentials as download_unauthorized, not retryable, without the secret', async () => {
    oauth.handler = (_req, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ reason: 'Invalid client_id or client_secret', echoed: CLIENT_SECRET }));
    };
    const provider = new S2STokenProvider({ ...creds, tokenUrl: `${oauth.origin}/oauth/token` });

    const err = await provider.getToken().catch((e: unknown) => e);

    expect(err).toBeInstanceOf(DownloadError);
    expect(err).toMatchObject({ code: 'download_unauthorized', retryable: false, host: '127.0.0.1', status: 401 });
    const text = `${(err as Error).message} ${String(err)}`;
    expect(text).not.toContain(CLIENT_SECRET);
    expect(text).not.toContain('acct-123'); // the query string stays out too
  });

  it('reports a 5xx as retryable and does not cache the failure', async () => {
    oauth.handler = (_req, res) => {
      res.writeHead(503);
      res.end();
    };
    const provider = new S2STokenProvider({ ...creds, tokenUrl: `${oauth.origin}/oauth/token` });

    await expect(provider.getToken()).rejects.toMatchObject({ code: 'download_http_error', retryable: true });
    oauth.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ access_token: 'after-outage', expires_in: 3600 }));
    };
    await expect(provider.getToken()).resolves.toBe('after-outage');
  });

  it('refuses an answer without access_token', async () => {
    oauth.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"expires_in":3600}');
    };
    const provider = new S2STokenProvider({ ...creds, tokenUrl: `${oauth.origin}/oauth/token` });

    await expect(provider.getToken()).rejects.toMatchObject({ code: 'download_http_error' });
  });

  it('refuses a plain-http token URL unless the host is loopback (the secret would travel in clear)', () => {
    expect(() => new S2STokenProvider({ ...creds, tokenUrl: 'http://zoom.us/oauth/token' })).toThrow(/must use https/);
    expect(() => new S2STokenProvider({ ...creds, tokenUrl: 'http://localhost:9/oauth/token' })).not.toThrow();
    expect(() => new S2STokenProvider({ ...creds })).not.toThrow(); // default https://zoom.us/oauth/token
  });
});
