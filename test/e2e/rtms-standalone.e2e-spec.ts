/**
 * The whole RTMS path in standalone mode (issue #18): Zoom's signed rtms_started webhooks (two simultaneous copies,
 * then Zoom's resend 5 simulated minutes later) → ingress → dedup → zoom.events → the RTMS connector → zoom-sim's
 * RTMS servers; audio in the filesystem object store under DATA_DIR. One process, embedded adapters.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { type AppProcess, startApp, waitFor } from '@zoom-pipeline/test-support';
import {
  FastClock,
  type RtmsServer,
  ZoomWebhookSender,
  rtmsEvent,
  startRtmsServer,
  zoomMeetingUuid,
} from '@zoom-pipeline/zoom-sim';

jest.setTimeout(120_000);

const SECRET = 'rtms-standalone-webhook-secret';
const CLIENT_ID = 'rtms-standalone-client';
const CLIENT_SECRET = `rtms-standalone-${randomBytes(6).toString('hex')}`;
let dataDir: string;
let app: AppProcess;
let sim: RtmsServer;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zp-rtms-sa-'));
  sim = await startRtmsServer({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    keepAliveIntervalMs: 300,
    keepAliveFrames: 'binary',
    frameIntervalMs: 5,
  });
  app = await startApp('standalone', {
    DATA_DIR: dataDir,
    ZOOM_WEBHOOK_SECRET_TOKEN: SECRET,
    RTMS_CLIENT_ID: CLIENT_ID,
    RTMS_CLIENT_SECRET: CLIENT_SECRET,
    RTMS_AUDIO_SEGMENT: '1s',
  });
});

afterAll(async () => {
  await app?.kill('SIGKILL');
  await sim?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test(
  'duplicate signed rtms_started webhooks through ingress and dedup: one connection, ' +
    'binary keep-alives answered, every sent audio byte stored',
  async () => {
    const streamId = randomBytes(16).toString('hex');
    const meetingUuid = zoomMeetingUuid();
    sim.addStream({ streamId, instanceId: meetingUuid, audioFrames: 400 });
    const body = rtmsEvent({
      product: 'meeting',
      streamId,
      instanceId: meetingUuid,
      accountId: 'acctSa',
    }) as unknown as Record<string, unknown> & { payload: Record<string, unknown> };
    body.payload.server_urls = sim.signalingUrl;

    // Two copies at the same moment, then the resend ~5 minutes later on Zoom's clock (x300: one real second).
    const sender = new ZoomWebhookSender({
      targetUrl: `${app.url}/webhooks/zoom`,
      secret: SECRET,
      clock: new FastClock(300),
    });
    const copies = await sender.sendCopies(body, 2);
    expect(copies.every((c) => c.attempts.at(-1)?.result === 200)).toBe(true);
    await waitFor('connected', async () => sim.stream(streamId).connections === 1);
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await sender.send(body)).attempts.at(-1)?.result).toBe(200);

    await waitFor('the stream ends', async () => sim.stream(streamId).ended, 60_000);
    const dir = (): string | undefined => {
      const walk = (d: string): string | undefined => {
        for (const e of fs.existsSync(d) ? fs.readdirSync(d, { withFileTypes: true }) : []) {
          const p = path.join(d, e.name);
          if (e.isDirectory()) {
            if (e.name === streamId) return p;
            const found = walk(p);
            if (found) return found;
          }
        }
        return undefined;
      };
      return walk(path.join(dataDir, 'objects', 'rtms'));
    };
    const streamDir = await waitFor('the manifest', async () => {
      const d = dir();
      return d && fs.existsSync(path.join(d, 'manifest.json')) ? d : undefined;
    });

    const st = sim.stream(streamId);
    expect(st).toMatchObject({ connections: 1, refusedConcurrent: 0, maxConcurrent: 1 });
    expect(sim.stats().keepAlivesSent.binary).toBeGreaterThan(0);
    expect(sim.stats().keepAliveTimeouts).toBe(0);
    const wavs = fs
      .readdirSync(path.join(streamDir, 'audio'))
      .filter((f) => f.endsWith('.wav'))
      .sort((a, b) => Number(a.split('-')[0]) - Number(b.split('-')[0]));
    const stored = Buffer.concat(wavs.map((f) => fs.readFileSync(path.join(streamDir, 'audio', f)).subarray(44)));
    expect(stored.equals(Buffer.concat(st.audioSent.map((f) => f.bytes)))).toBe(true);
    const manifest = JSON.parse(fs.readFileSync(path.join(streamDir, 'manifest.json'), 'utf8')) as {
      segments: unknown[];
      ended: string;
    };
    expect(manifest.segments).toHaveLength(wavs.length);
    expect(manifest.ended).toBe('zoom:meeting_ended');
  },
);
