/**
 * Standalone mode end to end (issue: standalone): one process, embedded adapters under DATA_DIR,
 * zoom-sim playing Zoom for both the webhooks and the recording downloads.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type AppProcess, startApp, waitFor } from '@zoom-pipeline/test-support';
import {
  type DownloadServer,
  type SimFile,
  ZoomWebhookSender,
  recordingCompleted,
  startDownloadServer,
  zoomMeetingUuid,
  zoomSignature,
} from '@zoom-pipeline/zoom-sim';

jest.setTimeout(300_000);

const SECRET = 'standalone-e2e-secret';
let dataDir: string;
let dl: DownloadServer;
let app: AppProcess;

function env(): Record<string, string> {
  return {
    DATA_DIR: dataDir,
    ZOOM_WEBHOOK_SECRET_TOKEN: SECRET,
    ZOOM_DOWNLOAD_ALLOWED_HOSTS: '127.0.0.1,127.0.0.2',
    UPLOAD_CONCURRENCY: '2',
  };
}

function storedObjects(): Array<{ key: string; file: string }> {
  const root = path.join(dataDir, 'objects');
  const out: Array<{ key: string; file: string }> = [];
  const walk = (dir: string) => {
    if (!fs.existsSync(dir)) return;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (e.name.startsWith('.')) continue; // .tmp and .meta
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else out.push({ key: path.relative(root, p), file: p });
    }
  };
  walk(root);
  return out;
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

function recordingFor(files: SimFile[], types: string[]) {
  return recordingCompleted({
    downloadBaseUrl: dl.url,
    meetingUuid: zoomMeetingUuid(),
    downloadToken: dl.issueDownloadToken(files.map((f) => f.fileId)),
    files: files.map((f, i) => ({ id: f.fileId, size: f.size, fileType: types[i] })),
  });
}

function peakRssKiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zp-standalone-'));
  dl = await startDownloadServer();
  app = await startApp('standalone', env(), { waitFor: 'readyz' });
});

afterAll(async () => {
  await app?.kill('SIGTERM');
  await dl?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('standalone: the whole pipeline in one process', () => {
  it('the reported duplicate scenario gives one download and one stored copy per file', async () => {
    const files = [
      dl.addFile({ size: 3 * 1024 * 1024 + 17, fileExtension: 'MP4' }),
      dl.addFile({ size: 1024 * 1024, fileExtension: 'M4A' }),
      dl.addFile({ size: 2048, fileExtension: 'TXT' }),
    ];
    const ids = files.map((f) => f.fileId);
    const payload = recordingFor(files, ['MP4', 'M4A', 'CHAT']);
    const sender = new ZoomWebhookSender({ targetUrl: `${app.url}/webhooks/zoom`, secret: SECRET });
    const copies = await sender.sendCopies(payload, 20, { downloadTokenForCopy: () => dl.issueDownloadToken(ids) });
    expect(copies.every((c) => c.acked)).toBe(true);
    const now = Math.floor(Date.now() / 1000);
    for (const minutes of [5, 25, 85])
      expect((await sender.send(copies[3].body, { timestampSec: now + minutes * 60 })).acked).toBe(true);

    const stored = await waitFor(
      'three stored files',
      async () => (storedObjects().length >= 3 ? storedObjects() : undefined),
      120_000,
      500,
    );
    await new Promise((r) => setTimeout(r, 3_000)); // would a duplicate download or a second object show up?
    expect(storedObjects()).toHaveLength(3);
    const byHash = new Map<string, string>();
    for (const o of stored) byHash.set(await sha256File(o.file), o.key);
    for (const f of files) {
      expect(byHash.has(f.sha256)).toBe(true);
      expect(dl.stats().files[f.fileId].downloadsCompleted).toBe(1);
    }
    expect(dl.stats().authHeaderLeaks).toBe(0);
    // Meeting UUIDs contain / + = : the key must not create extra path segments.
    for (const o of stored) expect(o.key.split('/')).toHaveLength(6);
  });

  it(
    'a delivery acknowledged right before SIGKILL is processed after ' +
      'restart, and its duplicate is still recognised',
    async () => {
      const file = dl.addFile({ size: 256 * 1024, fileExtension: 'MP4' });
      const payload = recordingFor([file], ['MP4']);
      const sender = new ZoomWebhookSender({ targetUrl: `${app.url}/webhooks/zoom`, secret: SECRET });
      const before = storedObjects().length;
      const first = await sender.send(payload);
      expect(first.acked).toBe(true);
      await app.kill('SIGKILL');
      app = await startApp('standalone', env(), { waitFor: 'readyz' });
      await waitFor('the file after restart', async () => storedObjects().length === before + 1, 60_000, 500);
      const again = new ZoomWebhookSender({ targetUrl: `${app.url}/webhooks/zoom`, secret: SECRET });
      expect(
        (await again.send(payload, { downloadTokenForCopy: () => dl.issueDownloadToken([file.fileId]) })).acked,
      ).toBe(true);
      await new Promise((r) => setTimeout(r, 3_000));
      expect(storedObjects()).toHaveLength(before + 1);
      expect(dl.stats().files[file.fileId].downloadsCompleted).toBe(1);
    },
  );

  const signed = (body: string, opts: { secret?: string; ts?: number; ct?: string } = {}) => {
    const ts = String(opts.ts ?? Math.floor(Date.now() / 1000));
    return {
      'content-type': opts.ct ?? 'application/json; charset=utf-8',
      'x-zm-request-timestamp': ts,
      'x-zm-signature': zoomSignature(opts.secret ?? SECRET, ts, body),
    };
  };
  const ok = JSON.stringify({
    event: 'meeting.started',
    payload: { account_id: 'a', object: { uuid: 'bad-input==', id: '1' } },
    event_ts: 1,
  });
  const big = JSON.stringify({ event: 'meeting.started', payload: { pad: 'x'.repeat(600 * 1024) } });
  it.each([
    ['no signature', { 'content-type': 'application/json' }, ok, 401, 'signature_missing'],
    ['a wrong secret', signed(ok, { secret: 'wrong' }), ok, 401, 'signature_mismatch'],
    ['a stale timestamp', signed(ok, { ts: Math.floor(Date.now() / 1000) - 3 * 3600 }), ok, 401, 'timestamp_stale'],
    ['a body that is not JSON', signed('nope'), 'nope', 400, 'body_not_json'],
    ['JSON without event', signed('{"payload":{}}'), '{"payload":{}}', 400, 'event_missing'],
    ['a body over MAX_BODY_BYTES', signed(big), big, 413, 'body_too_large'],
    ['a non-JSON content type', signed(ok, { ct: 'text/plain' }), ok, 415, 'unsupported_media_type'],
  ])('refuses %s with a JSON error and stores nothing', async (_n, headers, body, status, code) => {
    const accepted = async () => {
      const m = /zoom_webhook_deliveries_total\{[^}]*outcome="accepted"[^}]*\} (\d+)/g;
      let n = 0;
      for (const x of (await (await fetch(`${app.url}/metrics`)).text()).matchAll(m)) n += Number(x[1]);
      return n;
    };
    const before = await accepted();
    const res = await fetch(`${app.url}/webhooks/zoom`, { method: 'POST', headers, body });
    expect(res.status).toBe(status);
    expect(((await res.json()) as { error: string }).error).toBe(code);
    expect(await accepted()).toBe(before);
  });

  it('stores a 1 GiB recording intact with memory independent of its size', async () => {
    const big = dl.addFile({ size: 1024 ** 3, fileExtension: 'MP4' });
    const before = storedObjects().length;
    const rssBefore = peakRssKiB(app.child.pid!);
    const sender = new ZoomWebhookSender({ targetUrl: `${app.url}/webhooks/zoom`, secret: SECRET });
    expect((await sender.send(recordingFor([big], ['MP4']))).acked).toBe(true);
    const stored = await waitFor(
      'the 1 GiB file',
      async () => (storedObjects().length === before + 1 ? storedObjects() : undefined),
      240_000,
      1_000,
    );
    const peakMiB = peakRssKiB(app.child.pid!) / 1024;
    const obj = stored.find((o) => fs.statSync(o.file).size === big.size)!;
    expect(await sha256File(obj.file)).toBe(big.sha256);
    // Streaming: the process never comes near holding the file (1024 MiB); typical peak is ~150 MiB.
    process.stdout.write(
      `standalone 1 GiB upload: peak RSS ${peakMiB.toFixed(0)} MiB (before: ${(rssBefore / 1024).toFixed(0)} MiB)\n`,
    );
    expect(peakMiB).toBeLessThan(400);
  });
});
