import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { type DownloadServer, type DownloadServerOptions, startDownloadServer } from './download-server';

const MiB = 1024 * 1024;

function sha256(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

async function bodyOf(res: Response): Promise<Buffer> {
  return Buffer.from(await res.arrayBuffer());
}

/** Streams a response body into a hash without keeping it, counting bytes even if the body breaks. */
async function hashBody(res: Response): Promise<{ sha256: string; bytes: number; error?: unknown }> {
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      bytes += chunk.length;
    }
    return { sha256: hash.digest('hex'), bytes };
  } catch (error) {
    return { sha256: hash.digest('hex'), bytes, error };
  }
}

/** The origin hop as a careful client does it: Bearer to the origin only, no redirect following. */
async function resolveRedirect(url: string, token: string): Promise<string> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, redirect: 'manual' });
  expect(res.status).toBe(302);
  await res.arrayBuffer();
  return res.headers.get('location')!;
}

describe('startDownloadServer', () => {
  let server: DownloadServer | undefined;
  async function start(opts?: DownloadServerOptions): Promise<DownloadServer> {
    server = await startDownloadServer(opts);
    return server;
  }
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('failFirst answers the first requests with 429/503 and Retry-After, then serves the file', async () => {
    const s = await start();
    const file = s.addFile({
      size: 1000,
      token: 'tok-f',
      faults: { failFirst: { count: 3, statuses: [429, 503], retryAfterSec: 7 } },
    });
    const statuses: Array<[number, string | null]> = [];
    for (let i = 0; i < 4; i++) {
      const res = await fetch(file.downloadUrl, { headers: { authorization: 'Bearer tok-f' }, redirect: 'manual' });
      await res.arrayBuffer();
      statuses.push([res.status, res.headers.get('retry-after')]);
    }
    expect(statuses).toEqual([
      [429, '7'],
      [503, '7'],
      [429, '7'],
      [302, null],
    ]);
    expect(s.stats().files[file.fileId]?.faultAnswers).toBe(3);
  });

  it('chunked serves the whole file without Content-Length; a Range answer keeps its length', async () => {
    const s = await start();
    const file = s.addFile({ size: 5000, token: 'tok-c', faults: { chunked: true } });
    const target = await resolveRedirect(file.downloadUrl, 'tok-c');
    const whole = await fetch(target);
    expect(whole.headers.get('content-length')).toBeNull();
    expect(sha256(await bodyOf(whole))).toBe(file.sha256);
    const past = await fetch(target, { headers: { range: 'bytes=5000-' } });
    await past.arrayBuffer();
    expect([past.status, past.headers.get('content-range')]).toEqual([416, 'bytes */5000']);
  });

  it('listens on two loopback addresses and exposes the URLs', async () => {
    const s = await start();
    expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(s.redirectUrl).toMatch(/^http:\/\/127\.0\.0\.2:\d+$/);
    expect(s.tokenUrl).toBe(`${s.url}/oauth/token`);
    expect(s.port).toBeGreaterThan(0);
  });

  it('valid token → 302 to the other host (no credential) → 200 with exactly the promised bytes', async () => {
    const s = await start();
    const file = s.addFile({ size: 3 * MiB + 12_345, token: 'tok-1' });
    expect(file.downloadUrl).toMatch(new RegExp(`^${s.url}/rec/webhook_download/${file.fileId}/[\\w-]+$`));

    const location = await resolveRedirect(file.downloadUrl, 'tok-1');
    const target = new URL(location);
    expect(target.origin).toBe(s.redirectUrl);
    expect(target.pathname).toBe(`/ssr/${file.fileId}`);
    expect([...target.searchParams.keys()]).toEqual(['Policy', 'Signature', 'Key-Pair-Id']);

    const res = await fetch(location);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('video/mp4');
    expect(res.headers.get('content-length')).toBe(String(file.size));
    const got = await hashBody(res);
    expect(got).toEqual({ sha256: file.sha256, bytes: file.size });
    // And the promised digest is really that of the generator's bytes.
    expect(sha256(file.content.toBuffer())).toBe(file.sha256);

    const stats = s.stats();
    expect(stats).toMatchObject({
      redirects: 1,
      downloadsStarted: 1,
      downloadsCompleted: 1,
      bytesServed: file.size,
      authHeaderLeaks: 0,
      htmlAnswers: 0,
      redirectHostAuthorizations: [],
    });
    expect(stats.files[file.fileId]).toMatchObject({ redirects: 1, downloadsCompleted: 1, bytesServed: file.size });
  });

  it('an Authorization header at the redirect host → 400, counted and recorded', async () => {
    const s = await start();
    const file = s.addFile({ size: 1000, token: 'tok' });
    const location = await resolveRedirect(file.downloadUrl, 'tok');
    const res = await fetch(location, { headers: { authorization: 'Bearer tok' } });
    expect(res.status).toBe(400);
    await res.arrayBuffer();
    expect(s.stats()).toMatchObject({
      authHeaderLeaks: 1,
      redirectHostAuthorizations: ['Bearer tok'],
      downloadsStarted: 0,
    });
    expect(s.stats().files[file.fileId]!.authHeaderLeaks).toBe(1);
  });

  it('missing, wrong, revoked or query-string tokens → 200 text/html, like Zoom', async () => {
    const s = await start();
    const file = s.addFile({ size: 1000, token: 'good' });
    const attempts: Array<RequestInit & { url?: string }> = [
      {},
      { headers: { authorization: 'Bearer wrong' } },
      { url: `${file.downloadUrl}?access_token=good` },
    ];
    for (const a of attempts) {
      const res = await fetch(a.url ?? file.downloadUrl, { ...a, redirect: 'manual' });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect((await bodyOf(res)).toString()).toContain('Only the host can download this recording');
    }
    s.revokeToken('good');
    const revoked = await fetch(file.downloadUrl, { headers: { authorization: 'Bearer good' }, redirect: 'manual' });
    expect(revoked.status).toBe(200);
    expect(revoked.headers.get('content-type')).toMatch(/^text\/html/);
    await revoked.arrayBuffer();
    expect(s.stats()).toMatchObject({ htmlAnswers: 4, queryTokenUses: 1, redirects: 0 });
  });

  it('answers 401 instead when htmlForBadToken is false; unknown files are 404', async () => {
    const s = await start({ htmlForBadToken: false });
    const file = s.addFile({ size: 10 });
    const res = await fetch(file.downloadUrl, { redirect: 'manual' });
    expect(res.status).toBe(401);
    await res.arrayBuffer();
    const missing = await fetch(`${s.url}/rec/webhook_download/nope/x`, {
      headers: { authorization: `Bearer ${file.token}` },
    });
    expect(missing.status).toBe(404);
    await missing.arrayBuffer();
  });

  it('rejects forged and expired pre-signed URLs with 403', async () => {
    const s = await start();
    const file = s.addFile({ size: 10 });
    const forged = new URL(s.presignedUrl(file.fileId));
    forged.searchParams.set('Signature', 'AAAA');
    const expired = s.presignedUrl(file.fileId, -1);
    const otherFile = s.addFile({ size: 10 });
    const wrongFile = s.presignedUrl(file.fileId).replace(`/ssr/${file.fileId}`, `/ssr/${otherFile.fileId}`);
    for (const url of [forged.toString(), expired, wrongFile, `${s.redirectUrl}/ssr/${file.fileId}`]) {
      const res = await fetch(url);
      expect(res.status).toBe(403);
      await res.arrayBuffer();
    }
    expect(s.stats().badSignatures).toBe(4);
    const ok = await fetch(s.presignedUrl(file.fileId));
    expect(ok.status).toBe(200);
    await ok.arrayBuffer();
  });

  it('serves Range requests (N-, N-M, -K) so that a resume gives the same sha256', async () => {
    const s = await start();
    const file = s.addFile({ size: MiB + 7, fileExtension: 'M4A' });
    const location = await resolveRedirect(file.downloadUrl, file.token);
    const whole = file.content.toBuffer();

    const head = await fetch(location, { headers: { range: 'bytes=0-99999' } });
    expect(head.status).toBe(206);
    expect(head.headers.get('content-type')).toBe('audio/mp4');
    expect(head.headers.get('content-range')).toBe(`bytes 0-99999/${file.size}`);
    const tail = await fetch(location, { headers: { range: 'bytes=100000-' } });
    expect(tail.status).toBe(206);
    expect(tail.headers.get('content-length')).toBe(String(file.size - 100_000));
    const joined = Buffer.concat([await bodyOf(head), await bodyOf(tail)]);
    expect(sha256(joined)).toBe(file.sha256);

    const suffix = await fetch(location, { headers: { range: 'bytes=-10' } });
    expect((await bodyOf(suffix)).equals(whole.subarray(file.size - 10))).toBe(true);
    const middle = await fetch(location, { headers: { range: 'bytes=70000-70009' } });
    expect((await bodyOf(middle)).equals(whole.subarray(70_000, 70_010))).toBe(true);
    const beyond = await fetch(location, { headers: { range: `bytes=${file.size}-` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe(`bytes */${file.size}`);
    await beyond.arrayBuffer();
    expect(s.stats().rangeRequests).toBe(4);
  });

  it('resetAfterBytes cuts the first body mid-way once; a Range resume completes it', async () => {
    const s = await start({ resetAfterBytes: 300_000 });
    const file = s.addFile({ size: MiB });
    const location = await resolveRedirect(file.downloadUrl, file.token);

    const first = await fetch(location);
    expect(first.status).toBe(200);
    expect(first.headers.get('content-length')).toBe(String(MiB));
    const broken = await hashBody(first);
    expect(broken.error).toBeDefined();
    expect(broken.bytes).toBe(300_000);

    const rest = await fetch(location, { headers: { range: `bytes=${broken.bytes}-` } });
    expect(rest.status).toBe(206);
    const whole = Buffer.concat([file.content.toBuffer().subarray(0, broken.bytes), await bodyOf(rest)]);
    expect(sha256(whole)).toBe(file.sha256);

    const again = await fetch(location);
    expect(await hashBody(again)).toEqual({ sha256: file.sha256, bytes: MiB });
    expect(s.stats()).toMatchObject({ resets: 1, downloadsStarted: 3, downloadsCompleted: 2, downloadsAborted: 1 });
  });

  it('resetAfterBytes as a function decides per response', async () => {
    const s = await start({ resetAfterBytes: ({ bodyRequestIndex }) => (bodyRequestIndex < 2 ? 1000 : undefined) });
    const file = s.addFile({ size: 100_000 });
    const location = s.presignedUrl(file.fileId);
    expect((await hashBody(await fetch(location))).bytes).toBe(1000);
    expect((await hashBody(await fetch(location))).bytes).toBe(1000);
    expect(await hashBody(await fetch(location))).toEqual({ sha256: file.sha256, bytes: 100_000 });
  });

  it('counts a client that hangs up mid-body as an aborted download', async () => {
    const s = await start({ throttleBytesPerSec: 2_000_000 });
    const file = s.addFile({ size: 4 * MiB });
    const ac = new AbortController();
    const res = await fetch(s.presignedUrl(file.fileId), { signal: ac.signal });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    ac.abort();
    for (let i = 0; i < 100 && s.stats().downloadsAborted === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(s.stats()).toMatchObject({ downloadsStarted: 1, downloadsAborted: 1, downloadsCompleted: 0 });
    expect(s.stats().bytesServed).toBeLessThan(file.size);
  });

  it('throttles to throttleBytesPerSec', async () => {
    const s = await start({ throttleBytesPerSec: 1_000_000 });
    const file = s.addFile({ size: 300_000 });
    const t0 = performance.now();
    const got = await hashBody(await fetch(s.presignedUrl(file.fileId)));
    const elapsed = performance.now() - t0;
    expect(got.sha256).toBe(file.sha256);
    // 300 kB at 1 MB/s: the last 50 kB piece leaves at ~250 ms (300 ms would be the unthrottled bound's end).
    expect(elapsed).toBeGreaterThan(200);
  });

  describe('Server-to-Server OAuth', () => {
    const creds = { accountId: 'acct-1', clientId: 'client-1', clientSecret: 'secret-1' };
    const basic = (id: string, secret: string): string => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

    it('issues bearer tokens (query or form parameters) that download any file', async () => {
      const s = await start();
      s.setS2SCredentials(creds);
      const file = s.addFile({ size: 5000 });

      const viaQuery = await fetch(`${s.tokenUrl}?grant_type=account_credentials&account_id=acct-1`, {
        method: 'POST',
        headers: { authorization: basic('client-1', 'secret-1') },
      });
      expect(viaQuery.status).toBe(200);
      const token = (await viaQuery.json()) as Record<string, unknown>;
      expect(token).toMatchObject({ token_type: 'bearer', expires_in: 3600 });
      expect(typeof token.access_token).toBe('string');
      expect(typeof token.scope).toBe('string');

      const viaForm = await fetch(s.tokenUrl, {
        method: 'POST',
        headers: { authorization: basic('client-1', 'secret-1'), 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=account_credentials&account_id=acct-1',
      });
      expect(viaForm.status).toBe(200);
      await viaForm.arrayBuffer();

      const location = await resolveRedirect(file.downloadUrl, token.access_token as string);
      expect(await hashBody(await fetch(location))).toEqual({ sha256: file.sha256, bytes: 5000 });
      expect(s.stats()).toMatchObject({ tokenRequests: 2, tokenFailures: 0 });
    });

    it('wrong credentials → 401 invalid_client; wrong account or grant → 400', async () => {
      const s = await start();
      s.setS2SCredentials(creds);
      const bad = await fetch(`${s.tokenUrl}?grant_type=account_credentials&account_id=acct-1`, {
        method: 'POST',
        headers: { authorization: basic('client-1', 'nope') },
      });
      expect(bad.status).toBe(401);
      expect(await bad.text()).toBe('{"reason":"Invalid client_id or client_secret","error":"invalid_client"}');
      const noAuth = await fetch(`${s.tokenUrl}?grant_type=account_credentials&account_id=acct-1`, { method: 'POST' });
      expect(noAuth.status).toBe(401);
      await noAuth.arrayBuffer();
      const wrongAccount = await fetch(`${s.tokenUrl}?grant_type=account_credentials&account_id=other`, {
        method: 'POST',
        headers: { authorization: basic('client-1', 'secret-1') },
      });
      expect(wrongAccount.status).toBe(400);
      await wrongAccount.arrayBuffer();
      expect(s.stats()).toMatchObject({ tokenRequests: 3, tokenFailures: 3 });
    });

    it('access tokens expire after an hour of the server clock', async () => {
      let now = Date.now();
      const s = await start({ clock: { now: () => now } });
      s.setS2SCredentials(creds);
      const file = s.addFile({ size: 10 });
      const res = await fetch(`${s.tokenUrl}?grant_type=account_credentials&account_id=acct-1`, {
        method: 'POST',
        headers: { authorization: basic('client-1', 'secret-1') },
      });
      const { access_token } = (await res.json()) as { access_token: string };
      now += 3601_000;
      const late = await fetch(file.downloadUrl, {
        headers: { authorization: `Bearer ${access_token}` },
        redirect: 'manual',
      });
      expect(late.headers.get('content-type')).toMatch(/^text\/html/);
      await late.arrayBuffer();
    });
  });

  it('issueDownloadToken / grantToken make extra tokens valid for the given files only', async () => {
    const s = await start();
    const a = s.addFile({ size: 10 });
    const b = s.addFile({ size: 10 });
    const token = s.issueDownloadToken([a.fileId]);
    await resolveRedirect(a.downloadUrl, token);
    const denied = await fetch(b.downloadUrl, { headers: { authorization: `Bearer ${token}` }, redirect: 'manual' });
    expect(denied.headers.get('content-type')).toMatch(/^text\/html/);
    await denied.arrayBuffer();
  });

  it('streams a 64 MiB file without holding it in memory', async () => {
    const s = await start();
    const file = s.addFile({ size: 64 * MiB });
    const expected = file.sha256; // computed by streaming, before the measurement starts
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }, 5);
    // The client runs in a child process so that only the server's memory is measured here (a client's
    // garbage read buffers would otherwise dominate the RSS of this process).
    const client = `
      const h = require('node:crypto').createHash('sha256'); let n = 0;
      require('node:http').get(process.argv[1], (res) => {
        res.on('data', (c) => { h.update(c); n += c.length; });
        res.on('end', () => process.stdout.write(JSON.stringify({ sha256: h.digest('hex'), bytes: n })));
      }).on('error', (e) => { console.error(e); process.exit(1); });`;
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['-e', client, s.presignedUrl(file.fileId)], (err, stdout) =>
        err ? reject(err) : resolve(stdout),
      );
    });
    clearInterval(sampler);
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    expect(JSON.parse(out)).toEqual({ sha256: expected, bytes: 64 * MiB });
    expect(s.stats().files[file.fileId]).toMatchObject({ downloadsCompleted: 1, bytesServed: 64 * MiB });
    if (process.env.ZOOM_SIM_DEBUG === '1') console.log('rss growth MiB', (rssPeak - rssBefore) / MiB);
    expect(rssPeak - rssBefore).toBeLessThan(16 * MiB);
  });
});
