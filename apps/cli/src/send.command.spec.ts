import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import path from 'node:path';
import { runCli } from './cli';
import { type CommandContext } from './command-context';

const REPO_ROOT = path.resolve(__dirname, '../../..');
const SECRET = 'cli-test-secret-0123456789';

interface Received {
  headers: IncomingHttpHeaders;
  raw: Buffer;
  body: Record<string, unknown>;
  /** Verified here with node:crypto, independently of the code under test. */
  signatureValid: boolean;
}

interface Receiver {
  url: string;
  requests: Received[];
  close(): Promise<void>;
}

/** A webhook endpoint on loopback that checks Zoom's HMAC itself and answers like ingress. */
async function startReceiver(answer?: (r: Received) => { status: number; body: unknown }): Promise<Receiver> {
  const requests: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const ts = String(req.headers['x-zm-request-timestamp']);
      const expected = Buffer.from(`v0=${createHmac('sha256', SECRET).update(`v0:${ts}:`).update(raw).digest('hex')}`);
      const presented = Buffer.from(String(req.headers['x-zm-signature']));
      const signatureValid = expected.length === presented.length && timingSafeEqual(expected, presented);
      const r: Received = {
        headers: req.headers,
        raw,
        body: JSON.parse(raw.toString('utf8')) as Record<string, unknown>,
        signatureValid,
      };
      requests.push(r);
      const a =
        answer?.(r) ??
        (signatureValid
          ? { status: 200, body: { status: 'accepted', id: `id-${requests.length}` } }
          : {
              status: 401,
              body: { error: 'signature_mismatch', message: 'no configured secret token matches the signature' },
            });
      res.writeHead(a.status, { 'content-type': 'application/json' }).end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhooks/zoom`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A loopback port nobody listens on (and no pooled connection points to). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function context(
  env: NodeJS.ProcessEnv = {},
  stdin = '',
): CommandContext & { out: string[]; err: string[]; progress: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const progress: string[] = [];
  return {
    out,
    err,
    progress,
    io: {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
      progress: (t) => void (t !== undefined && progress.push(t)),
    },
    env,
    cwd: REPO_ROOT,
    repoRoot: REPO_ROOT,
    readStdin: () => Promise.resolve(stdin),
  };
}

type Obj = Record<string, unknown>;
const objectOf = (b: Obj): Obj => (b.payload as Obj).object as Obj;
const filesOf = (b: Obj): Obj[] => objectOf(b).recording_files as Obj[];

describe('zoom-pipeline send', () => {
  let receiver: Receiver;
  beforeEach(async () => {
    receiver = await startReceiver();
  });
  afterEach(async () => {
    await receiver.close();
  });

  it('signs a fixture as Zoom does (fresh event_ts and meeting UUID) and prints the answer', async () => {
    const ctx = context();
    const before = Date.now();
    const code = await runCli(['send', 'recording.completed', '--url', receiver.url, '--secret', SECRET], ctx);
    expect(ctx.err).toEqual([]);
    expect(code).toBe(0);
    expect(receiver.requests).toHaveLength(1);
    const [r] = receiver.requests as [Received];
    expect(r.signatureValid).toBe(true);
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    const ts = Number(r.headers['x-zm-request-timestamp']);
    expect(Math.abs(ts - Math.floor(before / 1000))).toBeLessThanOrEqual(2);
    expect(r.headers['x-zm-request-id']).toMatch(/^[0-9a-f]{8}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{12}$/);
    expect(r.headers['x-zm-trackingid']).toMatch(/^v=2\.0;clid=\w+;rid=WEB_[0-9a-f]{32}$/);
    // Sampled bit clear, as Zoom sends it.
    expect(r.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-02$/);
    // Compact bytes, as Zoom sends them.
    expect(r.raw.toString('utf8')).toBe(JSON.stringify(JSON.parse(r.raw.toString('utf8'))));
    expect(r.body.event).toBe('recording.completed');
    expect(r.body.event_ts as number).toBeGreaterThanOrEqual(before);
    const uuid = objectOf(r.body).uuid as string;
    expect(uuid).not.toBe('/Gx2k7+Rq0S1o9Lb//nYQw==');
    expect(Buffer.from(uuid, 'base64')).toHaveLength(16);
    expect(filesOf(r.body).every((f) => f.meeting_id === uuid)).toBe(true);

    expect(ctx.out).toHaveLength(1);
    expect(ctx.out[0]).toMatch(/^\[1\/1\] 200 \d+(\.\d)? ms \{"status":"accepted","id":"id-1"\}$/);
    const printed = ctx.out.join('\n');
    expect(printed).not.toContain(SECRET);
    expect(printed).not.toContain(String(r.headers['x-zm-signature']));
  });

  it('sends N simultaneous copies that differ only in download_token and download URLs', async () => {
    const ctx = context();
    const code = await runCli(
      [
        'send',
        'recording.completed',
        '--url',
        receiver.url,
        '--secret',
        SECRET,
        '--copies',
        '3',
        '--download-base',
        'http://127.0.0.1:9999/',
        '--token',
        'tok-a',
      ],
      ctx,
    );
    expect(code).toBe(0);
    expect(ctx.out).toHaveLength(3);
    expect(ctx.out.map((l) => l.slice(0, 10))).toEqual(['[1/3] 200 ', '[2/3] 200 ', '[3/3] 200 ']);
    expect(ctx.progress).toContain('sent 3/3');
    const bodies = receiver.requests.map((r) => r.body);
    expect(receiver.requests.every((r) => r.signatureValid)).toBe(true);
    expect(new Set(receiver.requests.map((r) => r.headers['x-zm-request-id'])).size).toBe(3);

    const tokens = bodies.map((b) => b.download_token);
    expect(tokens).toContain('tok-a');
    expect(new Set(tokens).size).toBe(3);
    const urls = bodies.flatMap((b) => filesOf(b).map((f) => f.download_url as string));
    expect(new Set(urls).size).toBe(urls.length);
    for (const b of bodies) {
      for (const f of filesOf(b)) {
        expect(f.download_url).toMatch(
          new RegExp(`^http://127\\.0\\.0\\.1:9999/rec/webhook_download/${String(f.id)}/[A-Za-z0-9_-]+$`),
        );
      }
    }
    const stripped = bodies.map((b) => {
      const copy = structuredClone(b);
      delete copy.download_token;
      for (const f of filesOf(copy)) delete f.download_url;
      return copy;
    });
    expect(stripped[1]).toEqual(stripped[0]);
    expect(stripped[2]).toEqual(stripped[0]);
  });

  it('prints refusals with their status and code, network failures with theirs, and exits 1', async () => {
    const ctx = context();
    expect(await runCli(['send', 'meeting.started', '--url', receiver.url, '--secret', 'not-the-secret'], ctx)).toBe(1);
    expect(ctx.out).toHaveLength(1);
    expect(ctx.out[0]).toMatch(
      /^\[1\/1\] 401 signature_mismatch \d+(\.\d)? ms \{"error":"signature_mismatch","message":".*"\}$/,
    );

    const down = context();
    expect(
      await runCli(
        [
          'send',
          'meeting.started',
          '--url',
          `http://127.0.0.1:${await closedPort()}/webhooks/zoom`,
          '--secret',
          SECRET,
          '--json',
        ],
        down,
      ),
    ).toBe(1);
    const line = JSON.parse(down.out[0]!) as Obj;
    expect(line).toMatchObject({ copy: 0, ok: false, code: 'ECONNREFUSED' });
    expect(line.status).toBeUndefined();
  });

  it('exits 1 when one copy of several is refused', async () => {
    await receiver.close();
    let n = 0;
    receiver = await startReceiver(() =>
      ++n === 2
        ? { status: 503, body: { error: 'log_unavailable', message: 'try later' } }
        : { status: 200, body: { status: 'accepted' } },
    );
    const ctx = context();
    expect(
      await runCli(['send', 'recording.completed', '--url', receiver.url, '--secret', SECRET, '--copies', '2'], ctx),
    ).toBe(1);
    expect(ctx.out.filter((l) => / 503 log_unavailable /.test(l))).toHaveLength(1);
  });

  it('takes the first secret of ZOOM_WEBHOOK_SECRET_TOKEN, or the per-app one for /webhooks/zoom/<app>', async () => {
    const ctx = context({ ZOOM_WEBHOOK_SECRET_TOKEN: ` ${SECRET} ,older-secret` });
    expect(await runCli(['send', 'meeting.ended', '--url', receiver.url], ctx)).toBe(0);
    const app = context({ ZOOM_WEBHOOK_SECRET_TOKEN: 'wrong', ZOOM_WEBHOOK_SECRET_TOKEN_SALES_EU: SECRET });
    expect(await runCli(['send', 'meeting.ended', '--url', `${receiver.url}/sales-eu`], app)).toBe(0);
    expect(receiver.requests.map((r) => r.signatureValid)).toEqual([true, true]);
  });

  it('applies --set last, keeps the UUID with --keep-ids, and reads a body file or stdin', async () => {
    const ctx = context({}, JSON.stringify({ event: 'meeting.started', payload: { object: { uuid: 'u1' } } }));
    const args = ['--url', receiver.url, '--secret', SECRET, '--keep-ids'];
    expect(
      await runCli(
        [
          'send',
          'recording.completed',
          ...args,
          '--set',
          'payload.object.topic=Demo',
          '--set',
          'payload.object.recording_files[1].file_size=7',
          '--set',
          'event_ts=5',
        ],
        ctx,
      ),
    ).toBe(0);
    expect(await runCli(['send', '-', ...args], ctx)).toBe(0);
    expect(
      await runCli(['send', path.join(REPO_ROOT, 'test/zoom-sim/fixtures/meeting.started.json'), ...args], ctx),
    ).toBe(0);
    const [first, fromStdin, fromFile] = receiver.requests.map((r) => r.body) as [Obj, Obj, Obj];
    expect(objectOf(first)).toMatchObject({ topic: 'Demo', uuid: '/Gx2k7+Rq0S1o9Lb//nYQw==' });
    expect(filesOf(first)[1]!.file_size).toBe(7);
    expect(first.event_ts).toBe(5);
    expect(objectOf(fromStdin).uuid).toBe('u1');
    expect(fromFile.event).toBe('meeting.started');
  });

  it('refuses bad command lines with a clear message, the usage and exit code 2, sending nothing', async () => {
    const url = ['--url', receiver.url];
    const cases: Array<[string[], RegExp]> = [
      [['send', 'meeting.started', ...url, '--bogus'], /unknown option --bogus/],
      [['send', 'meeting.started', ...url, '--copies', '0'], /--copies must be an integer/],
      [['send', 'meeting.started', ...url, '--copies'], /--copies/],
      [['send', ...url], /needs a fixture name or a file/],
      [
        ['send', 'no.such.event', ...url],
        /no such file or fixture: no\.such\.event \(fixtures: .*recording\.completed/,
      ],
      [['send', 'meeting.started', ...url, '--set', 'novalue'], /--set needs PATH=VALUE/],
      [['send', 'meeting.started', '--url', 'ftp://x'], /--url must be http/],
    ];
    for (const [argv, message] of cases) {
      const ctx = context({ ZOOM_WEBHOOK_SECRET_TOKEN: SECRET });
      expect(await runCli(argv, ctx)).toBe(2);
      expect(ctx.err[0]).toMatch(message);
      expect(ctx.err.join('\n')).toContain('usage: zoom-pipeline send');
    }
    const noSecret = context({});
    expect(await runCli(['send', 'meeting.started', '--url', receiver.url], noSecret)).toBe(2);
    expect(noSecret.err[0]).toMatch(/no secret: pass --secret or set ZOOM_WEBHOOK_SECRET_TOKEN/);
    expect(receiver.requests).toHaveLength(0);
  });
});
