import { type Admin, Kafka, logLevel } from 'kafkajs';
import { loadEndpoints } from './endpoints';

let kafka: Kafka | undefined;
export function testKafka(): Kafka {
  kafka ??= new Kafka({
    clientId: 'zp-tests',
    brokers: loadEndpoints().kafkaBrokers.split(','),
    logLevel: logLevel.NOTHING,
    retry: { retries: 3 },
  });
  return kafka;
}

export async function withAdmin<T>(f: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    return await f(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Sum of the high watermarks of a topic (0 when it does not exist yet). */
export async function topicSize(topic: string): Promise<number> {
  return withAdmin(async (admin) => {
    const topics = await admin.listTopics();
    if (!topics.includes(topic)) return 0;
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((n, p) => n + Number(p.high), 0);
  });
}

export interface ReadRecord {
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer;
  headers: Record<string, string>;
}

/** Where each partition of a topic ends now; give it to `readTopic` as `from` to read only what comes after. */
export type TopicMark = Map<number, number>;

export async function topicMark(topic: string): Promise<TopicMark> {
  return withAdmin(async (admin) => {
    const mark: TopicMark = new Map();
    if (!(await admin.listTopics()).includes(topic)) return mark;
    for (const p of await admin.fetchTopicOffsets(topic)) mark.set(p.partition, Number(p.high));
    return mark;
  });
}

export interface ReadTopicOptions {
  timeoutMs?: number;
  /**
   * Read only records at or after these offsets (from `topicMark` taken before the test acted). The topics are
   * shared by every suite and benchmark run on the machine (a day of retention): reading one from the beginning
   * can mean a gigabyte, and tests that did so timed out.
   */
  from?: TopicMark;
}

/**
 * Reads every committed record of a topic (from the beginning, or from `from`) up to the current end
 * (read_committed, as other internal services would). No consumer group: nothing is committed by the test.
 */
export async function readTopic(topic: string, options: number | ReadTopicOptions = {}): Promise<ReadRecord[]> {
  const { timeoutMs = 30_000, from } = typeof options === 'number' ? { timeoutMs: options } : options;
  const ends = await withAdmin(async (admin) => {
    if (!(await admin.listTopics()).includes(topic)) return [];
    return (await admin.fetchTopicOffsets(topic)).map((p) => {
      const low = Number(p.low);
      return { partition: p.partition, low: Math.max(low, from?.get(p.partition) ?? low), high: Number(p.high) };
    });
  });
  const wanted = ends.filter((e) => e.high > e.low);
  if (wanted.length === 0) return [];
  const consumer = testKafka().consumer({
    groupId: `zp-test-reader-${process.pid}-${Date.now()}-${Math.random().toString(16).slice(2)}`,
    readUncommitted: false,
  });
  const records: ReadRecord[] = [];
  const done = new Set<number>();
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`reading ${topic} timed out after ${timeoutMs} ms`)), timeoutMs);
      // A partition whose tail is a transaction marker never shows that offset: stop once reads go quiet.
      let idle: NodeJS.Timeout | undefined;
      const quiet = () => {
        clearTimeout(idle);
        idle = setTimeout(() => {
          clearTimeout(timer);
          resolve();
        }, 3_000);
      };
      quiet();
      void consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            quiet();
            const end = wanted.find((w) => w.partition === batch.partition);
            for (const m of batch.messages) {
              if (end && Number(m.offset) >= end.low && Number(m.offset) < end.high) {
                const headers: Record<string, string> = {};
                for (const [k, v] of Object.entries(m.headers ?? {}))
                  if (v !== undefined) headers[k] = Buffer.isBuffer(v) ? v.toString() : String(v);
                records.push({
                  partition: batch.partition,
                  offset: m.offset,
                  key: m.key ? m.key.toString() : null,
                  value: m.value ?? Buffer.alloc(0),
                  headers,
                });
              }
            }
            // Transaction markers occupy offsets: the last offset of the batch tells how far we are.
            if (end && Number(batch.lastOffset()) + 1 >= end.high) done.add(batch.partition);
            if (done.size === wanted.length) {
              clearTimeout(timer);
              clearTimeout(idle);
              resolve();
            }
          },
        })
        .then(() => {
          // Skip what precedes the mark (records fetched before the seek applies are filtered out above).
          // Partitions with nothing new go straight to their end, or they would be read from the beginning.
          if (from)
            for (const e of ends)
              consumer.seek({ topic, partition: e.partition, offset: String(Math.min(e.low, e.high)) });
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return records;
}

/**
 * `topicMark` of several topics at once, e.g. at the start of a suite's beforeAll: `readTopic(t, { from: marks.get(t)
 * })`.
 */
export async function markTopics(...topics: string[]): Promise<Map<string, TopicMark>> {
  return new Map(await Promise.all(topics.map(async (t) => [t, await topicMark(t)] as const)));
}
