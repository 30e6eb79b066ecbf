/**
 * No poison pill (issue: reliability, items 2 and 3), dedup as a process against real Kafka and Redis. Records that
 * dedup cannot process, written straight to zoom.webhooks.raw (as an older or foreign producer could have), are
 * parked on zoom.webhooks.dead with their reason, and the normal record behind them in the same partition becomes
 * its canonical event. Before the fix, the deeply nested recording.completed threw while its CloudEvent was
 * serialised, outside the per-record handling: the batch was retried forever and the partition stayed wedged.
 */
import { randomUUID } from 'node:crypto';
import { TOPICS, decodeCanonicalEvent, encodeRawDelivery } from '@zoom-pipeline/contracts';
import {
  type AppProcess,
  type TopicMark,
  loadEndpoints,
  markTopics,
  readTopic,
  startApp,
  testKafka,
  waitFor,
} from '@zoom-pipeline/test-support';

jest.setTimeout(180_000);

const DEAD_TOPIC = 'zoom.webhooks.dead';
let dedup: AppProcess | undefined;
let marks = new Map<string, TopicMark>();

beforeAll(async () => {
  marks = await markTopics(TOPICS.events, DEAD_TOPIC);
  const e = loadEndpoints();
  dedup = await startApp(
    'dedup',
    { KAFKA_BROKERS: e.kafkaBrokers, REDIS_URL: e.redisUrl, REDIS_KEY_PREFIX: `zp-e2e-poison-${process.pid}:` },
    { waitFor: 'readyz' },
  );
});

afterAll(async () => {
  await dedup?.kill('SIGTERM');
});

function rawRecord(key: string, event: string, body: Buffer) {
  const id = randomUUID();
  const record = encodeRawDelivery({
    id,
    receivedAt: new Date().toISOString(),
    app: 'default',
    sourceIp: '203.0.113.7',
    event,
    headers: { timestamp: String(Math.floor(Date.now() / 1000)) },
    body,
  });
  return { id, message: { key, value: record.value, headers: record.headers } };
}

const recording = (uuid: string, extra = '') =>
  `{"event":"recording.completed","payload":{"account_id":"acct-poison","object":{"uuid":"${uuid}","id":85746065123,` +
  `"topic":"t","recording_files":[{"id":"file-${uuid}","file_type":"MP4"}]${extra}}},` +
  '"download_token":"tok"}';

describe('dedup with a poison record in front of a normal one (real Kafka and Redis)', () => {
  it('dead-letters the poison records with their reasons and emits the normal record behind them', async () => {
    const uuid = `poison-${randomUUID()}==`;
    // Same key: one partition, so the normal record is strictly behind the poison ones.
    const deep = rawRecord(
      uuid,
      'recording.completed',
      Buffer.from(recording(uuid, `,"notes":${'['.repeat(10_000)}${']'.repeat(10_000)}`)),
    );
    const bom = rawRecord(
      uuid,
      'recording.completed',
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(recording(`${uuid}-bom`))]),
    );
    const normalUuid = `${uuid}-normal`;
    const normal = rawRecord(
      uuid,
      'meeting.started',
      Buffer.from(
        `{"event":"meeting.started","payload":{"account_id":"acct-poison","object":{"uuid":"${normalUuid}","id":"1"}}}`,
      ),
    );

    const producer = testKafka().producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      await producer.send({ topic: TOPICS.raw, acks: -1, messages: [deep.message, bom.message, normal.message] });
    } finally {
      await producer.disconnect();
    }

    const events = await waitFor(
      'the canonical event of the record behind the poison ones',
      async () => {
        const found = (await readTopic(TOPICS.events, { from: marks.get(TOPICS.events) }))
          .map((r) => decodeCanonicalEvent(r.value))
          .filter((ev) => ev.subject === normalUuid);
        return found.length > 0 ? found : undefined;
      },
      60_000,
      1_000,
    );
    expect(events).toHaveLength(1);
    expect(events[0].zoomdeliveryid).toBe(normal.id);

    const dead = await waitFor(
      'both poison records on the dead-letter topic',
      async () => {
        const mine = (await readTopic(DEAD_TOPIC, { from: marks.get(DEAD_TOPIC) })).filter((r) =>
          [deep.id, bom.id].some((id) => id === r.headers['zp-delivery-id']),
        );
        return mine.length >= 2 ? mine : undefined;
      },
      60_000,
      1_000,
    );
    const reasons = Object.fromEntries(dead.map((r) => [r.headers['zp-delivery-id'], r.headers['zp-error-code']]));
    expect(reasons).toEqual({ [deep.id]: 'body_too_deep', [bom.id]: 'body_bom' });
    // Parked as they were: the value is the original bytes, the message says why.
    const deepDead = dead.find((r) => r.headers['zp-delivery-id'] === deep.id);
    expect(deepDead?.value.equals(deep.message.value)).toBe(true);
    expect(deepDead?.headers['zp-error']).toMatch(/body_too_deep/);
    expect(dedup?.child.exitCode).toBeNull();
  });
});
