/**
 * Dedup against real Kafka and Redis, ingress and dedup as processes, zoom-sim as Zoom (issue: dedup).
 * The reported case: one recording.completed delivered 20 times at once with different download tokens
 * and URLs, then retried by Zoom: exactly one canonical event, one work item per file.
 * Run once per Kafka client of the dedup consumer (KAFKA_CLIENT, which carries its consume → outputs + offsets
 * transaction) by dedup.e2e-spec.ts (platformatic, the default) and dedup-kafkajs.e2e-spec.ts.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { TOPICS, decodeCanonicalEvent, decodeDuplicateDelivery, decodeFileWorkItem } from '@zoom-pipeline/contracts';
import {
  type AppProcess,
  FAULTS,
  REPO_ROOT,
  type StartAppOptions,
  type TopicMark,
  loadEndpoints,
  markTopics,
  readTopic,
  startApp,
  waitFor,
} from '@zoom-pipeline/test-support';
import { ZoomWebhookSender, recordingCompleted, zoomMeetingUuid } from '@zoom-pipeline/zoom-sim';

jest.setTimeout(240_000);

const SECRET = 'dedup-e2e-secret';
const infra = (...args: string[]) =>
  execFileSync('bash', [path.join(REPO_ROOT, 'scripts/infra.sh'), ...args], { stdio: 'pipe' });

export function dedupSuite(client: 'kafkajs' | 'platformatic'): void {
  let ingress: AppProcess;
  const dedups: AppProcess[] = [];
  let sender: ZoomWebhookSender;

  function clusterEnv(extra: Record<string, string> = {}): Record<string, string> {
    const e = loadEndpoints();
    return {
      KAFKA_BROKERS: e.kafkaBrokers,
      KAFKA_CLIENT: client,
      REDIS_URL: e.redisUrl,
      REDIS_KEY_PREFIX: `zp-e2e-${process.pid}:`,
      ...extra,
    };
  }

  async function startDedup(extra: Record<string, string> = {}, options: StartAppOptions = {}): Promise<AppProcess> {
    const p = await startApp('dedup', clusterEnv(extra), options);
    dedups.push(p);
    return p;
  }

  function recording(files = 3) {
    return recordingCompleted({
      downloadBaseUrl: 'https://us06web.zoom.us',
      meetingUuid: zoomMeetingUuid(),
      files: Array.from({ length: files }, (_, i) => ({ fileType: ['MP4', 'M4A', 'CHAT'][i % 3], size: 1000 + i })),
    }) as unknown as {
      payload: { object: { uuid: string; recording_files: Array<{ id: string }> } };
      download_token: string;
    };
  }

  async function eventsFor(uuid: string) {
    return (await readTopic(TOPICS.events, { from: marks.get(TOPICS.events) }))
      .map((r) => decodeCanonicalEvent(r.value))
      .filter((e) => e.subject === uuid);
  }

  async function settle(uuid: string, expectedDuplicates: number) {
    // Wait until every delivery has been handled: the canonical event and all duplicates are visible.
    return waitFor(
      'dedup to handle every copy',
      async () => {
        const events = await eventsFor(uuid);
        if (events.length === 0) return undefined;
        const dups = (await readTopic(TOPICS.duplicates, { from: marks.get(TOPICS.duplicates) }))
          .map((r) => decodeDuplicateDelivery(r.value))
          .filter((d) => d.canonicalId === events[0].id);
        return dups.length >= expectedDuplicates ? { events, dups } : undefined;
      },
      90_000,
      1_000,
    );
  }

  let marks = new Map<string, TopicMark>();

  beforeAll(async () => {
    // Read only what this suite produces: the topics are shared with every other suite and benchmark run.
    marks = await markTopics(TOPICS.events, TOPICS.duplicates, TOPICS.files);
    ingress = await startApp(
      'ingress',
      { KAFKA_BROKERS: loadEndpoints().kafkaBrokers, ZOOM_WEBHOOK_SECRET_TOKEN: SECRET },
      { waitFor: 'readyz' },
    );
    sender = new ZoomWebhookSender({ targetUrl: `${ingress.url}/webhooks/zoom`, secret: SECRET });
  });

  afterAll(async () => {
    await Promise.all([ingress, ...dedups].map((p) => p?.kill('SIGTERM')));
  });

  describe(`dedup with real Kafka and Redis (client ${client})`, () => {
    it('turns 20 simultaneous copies plus 3 retries into exactly one event and one work item per file', async () => {
      await startDedup();
      const payload = recording(3);
      const uuid = payload.payload.object.uuid;
      const copies = await sender.sendCopies(payload, 20);
      expect(copies.every((o) => o.acked)).toBe(true);
      const bodies = new Set(copies.map((o) => o.body.toString()));
      expect(bodies.size).toBe(20); // really different copies (token and URLs)
      // Zoom's retries come 5, 25 and 85 minutes later, re-stamped.
      const now = Math.floor(Date.now() / 1000);
      for (const minutes of [5, 25, 85]) {
        const retry = await sender.send(copies[0].body, { timestampSec: now + minutes * 60 });
        expect(retry.acked).toBe(true);
      }

      const { events, dups } = await settle(uuid, 22);
      expect(events).toHaveLength(1);
      expect(dups).toHaveLength(22);
      // zoom.events carries no download token (EVENTS_REDACT_FIELDS); the work items do.
      const tokens = copies.map((o) => JSON.parse(o.body.toString()).download_token as string);
      expect(events[0].data.download_token).toBe('[redacted]');
      for (const t of tokens) expect(JSON.stringify(events[0])).not.toContain(t);
      expect(events[0].type).toBe('us.zoom.recording.completed');

      const items = (await readTopic(TOPICS.files, { from: marks.get(TOPICS.files) }))
        .map((r) => decodeFileWorkItem(r.value))
        .filter((i) => i.canonicalId === events[0].id);
      expect(items.map((i) => i.fileId).sort()).toEqual(payload.payload.object.recording_files.map((f) => f.id).sort());
      for (const i of items) expect(tokens).toContain(i.downloadToken);
    });

    it('keeps exactly one event per occurrence across a rebalance in the middle of a duplicate storm', async () => {
      const payloads = Array.from({ length: 8 }, () => recording(1));
      const storm = payloads.map((p) => sender.sendCopies(p, 10));
      // A second dedup joins the group while the storm is in flight: partitions move between them.
      const second = startDedup();
      await Promise.all(storm);
      await second;
      for (const p of payloads) {
        const { events } = await settle(p.payload.object.uuid, 9);
        expect(events).toHaveLength(1);
      }
    });

    it('emits exactly once after a crash between claiming the key and emitting the event', async () => {
      await Promise.all(dedups.splice(0).map((d) => d.kill('SIGTERM')));
      const payload = recording(2);
      const uuid = payload.payload.object.uuid;
      expect((await sender.send(payload)).acked).toBe(true);
      const crashing = await startDedup({}, { waitFor: 'nothing', preload: [FAULTS.dedupCrashAfterClaim] });
      await crashing.exited; // SIGKILLed itself after the claim, before the transaction
      expect(crashing.child.signalCode).toBe('SIGKILL');
      expect(await eventsFor(uuid)).toHaveLength(0);
      await startDedup();
      const events = await waitFor(
        'the event after restart',
        async () => {
          const e = await eventsFor(uuid);
          return e.length > 0 ? e : undefined;
        },
        90_000,
        1_000,
      );
      await new Promise((r) => setTimeout(r, 2_000));
      expect(await eventsFor(uuid)).toHaveLength(1);
      expect(events[0].subject).toBe(uuid);
    });

    it('loses and doubles nothing when Redis restarts during a run', async () => {
      const payloads = Array.from({ length: 6 }, () => recording(1));
      const first = await Promise.all(payloads.slice(0, 3).map((p) => sender.sendCopies(p, 5)));
      infra('restart', 'redis');
      const second = await Promise.all(payloads.map((p) => sender.sendCopies(p, 5)));
      expect([...first, ...second].flat().every((o) => o.acked)).toBe(true);
      for (const [i, p] of payloads.entries()) {
        const { events } = await settle(p.payload.object.uuid, i < 3 ? 9 : 4);
        expect(events).toHaveLength(1);
      }
    });
  });
}
