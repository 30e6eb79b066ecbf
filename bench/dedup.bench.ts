// Dedup benchmark: the dedup app (Redis claims per batch, outputs + offsets in Kafka transactions merged across
// partitions) against a pass-through kafkajs
// consumer over the same messages, same run. Run alone: `node dist/bench/dedup.bench.js`.
import { randomBytes, randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { type Admin, Kafka, type Message, CompressionTypes, logLevel } from 'kafkajs';
import { DEFAULT_PARTITIONS, TOPICS, encodeRawDelivery } from '@zoom-pipeline/contracts';
import { loadEndpoints } from '@zoom-pipeline/test-support';
import { meetingStarted, participantJoined } from '@zoom-pipeline/zoom-sim';
import { type AppTarget } from './lib/base-ref';
import { fmt, kafkaBrokerPid, processCpuSeconds, ratio, sleep, startDistApp, writeSection } from './lib/bench-util';

const N = Number(process.env.BENCH_DEDUP_N ?? 50_000);
const DUP_SHARE = 0.2;
const DEDUP_GROUP = 'zoom-pipeline-dedup';
const RAW = TOPICS.raw;

export interface DrainResult {
  messages: number;
  /** First committed progress → everything up to the snapshot committed. */
  seconds: number;
  rate: number;
  /** Process start (or consumer.run) → drained, including group join. */
  wallSeconds: number;
  /** CPU seconds of the consumer's process over the measured part (first progress → drained); NaN if unknown. */
  cpuS: number;
  /** Cores the Kafka broker used over the measured part. */
  brokerCores: number;
  /** Messages committed over the measured part. */
  measured: number;
}

export interface DedupResults {
  n: number;
  duplicates: number;
  avgValueBytes: number;
  backlogBefore: number;
  otherMembers: number;
  dedup: DrainResult;
  passThrough: DrainResult;
  keys: number;
  sampled: number;
  bytesPerKey: number;
}

type Offsets = Map<number, number>;

async function topicEnds(admin: Admin, topic: string): Promise<{ low: Offsets; high: Offsets }> {
  const low: Offsets = new Map();
  const high: Offsets = new Map();
  for (const p of await admin.fetchTopicOffsets(topic)) {
    low.set(p.partition, Number(p.low));
    high.set(p.partition, Number(p.high));
  }
  return { low, high };
}

async function committed(admin: Admin, groupId: string, topic: string, low: Offsets): Promise<Offsets> {
  const out: Offsets = new Map();
  const res = await admin.fetchOffsets({ groupId, topics: [topic] });
  for (const p of res[0]?.partitions ?? [])
    out.set(p.partition, Number(p.offset) >= 0 ? Number(p.offset) : (low.get(p.partition) ?? 0));
  return out;
}

const lagTo = (target: Offsets, c: Offsets): number =>
  [...target].reduce((n, [p, end]) => n + Math.max(0, end - (c.get(p) ?? 0)), 0);

/** Polls the group's committed offsets until it reached `target` on every partition. */
async function drain(
  admin: Admin,
  groupId: string,
  target: Offsets,
  low: Offsets,
  startedAt: number,
  consumerCpuS: () => number,
  timeoutMs = 600_000,
): Promise<DrainResult> {
  const initial = await committed(admin, groupId, RAW, low);
  const total = lagTo(target, initial);
  const brokerPid = kafkaBrokerPid();
  let firstAt: number | undefined;
  let lagAtFirst = total;
  let cpuAtFirst = consumerCpuS();
  let brokerAtFirst = processCpuSeconds(brokerPid);
  for (;;) {
    const now = Date.now();
    const lag = lagTo(target, await committed(admin, groupId, RAW, low));
    if (firstAt === undefined && lag < total) {
      firstAt = now;
      lagAtFirst = lag;
      cpuAtFirst = consumerCpuS();
      brokerAtFirst = processCpuSeconds(brokerPid);
    }
    if (lag === 0) {
      const measuredPart = firstAt !== undefined && now > firstAt;
      const seconds = measuredPart ? (now - firstAt!) / 1000 : (now - startedAt) / 1000;
      const messages = measuredPart ? lagAtFirst : total;
      return {
        messages: total,
        seconds,
        rate: messages / seconds,
        wallSeconds: (now - startedAt) / 1000,
        cpuS: consumerCpuS() - cpuAtFirst,
        brokerCores: (processCpuSeconds(brokerPid) - brokerAtFirst) / seconds,
        measured: messages,
      };
    }
    if (now - startedAt > timeoutMs) throw new Error(`${groupId} still has lag ${lag} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

function buildMessages(): { messages: Message[]; duplicates: number } {
  const uniques = Math.round(N * (1 - DUP_SHARE));
  const bodies: Array<{ key: string; event: string; body: string }> = [];
  for (let i = 0; i < uniques; i++) {
    // Participant and meeting events: no recording files, so nothing is queued for anyone's uploader.
    const e = (i % 4 === 0 ? meetingStarted() : participantJoined()) as unknown as {
      event: string;
      payload: { object: { uuid: string } };
    };
    bodies.push({ key: e.payload.object.uuid, event: e.event, body: JSON.stringify(e) });
  }
  const order: number[] = bodies.map((_, i) => i);
  // Duplicates: Zoom's retries and simultaneous copies, placed a little after the original.
  for (let d = 0; d < N - uniques; d++) {
    const of = Math.floor(Math.random() * uniques);
    const at = Math.min(order.length, order.indexOf(of, Math.max(0, of - 50)) + 1 + Math.floor(Math.random() * 200));
    order.splice(at, 0, of);
  }
  const ts = String(Math.floor(Date.now() / 1000));
  const messages = order.map((i): Message => {
    const b = bodies[i];
    const record = encodeRawDelivery({
      id: randomUUID(),
      receivedAt: new Date().toISOString(),
      app: 'default',
      sourceIp: '127.0.0.1',
      event: b.event,
      headers: { timestamp: ts, trackingId: `v=2.0;clid=us06;rid=${randomBytes(8).toString('hex')}` },
      body: b.body,
    });
    return { key: b.key, value: record.value, headers: record.headers };
  });
  return { messages, duplicates: N - uniques };
}

async function passThrough(
  kafka: Kafka,
  admin: Admin,
  start: Offsets,
  target: Offsets,
  low: Offsets,
): Promise<DrainResult> {
  const groupId = `bench-passthrough-${randomBytes(4).toString('hex')}`;
  const out = `bench-passthrough-out-${randomBytes(4).toString('hex')}`;
  await admin.createTopics({
    topics: [{ topic: out, numPartitions: DEFAULT_PARTITIONS[RAW] ?? 12 }],
    waitForLeaders: true,
  });
  // Start the group exactly where the dedup group started: the same messages.
  await admin.setOffsets({
    groupId,
    topic: RAW,
    partitions: [...start].map(([partition, offset]) => ({ partition, offset: String(offset) })),
  });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const consumer = kafka.consumer({ groupId, maxBytesPerPartition: 1_048_576 });
  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topic: RAW });
  const startedAt = Date.now();
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch, heartbeat }) => {
      if (batch.messages.length === 0) return;
      await producer.send({
        topic: out,
        acks: -1,
        compression: CompressionTypes.None,
        messages: batch.messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers })),
      });
      await consumer.commitOffsets([
        { topic: batch.topic, partition: batch.partition, offset: String(Number(batch.lastOffset()) + 1) },
      ]);
      await heartbeat();
    },
  });
  try {
    // The pass-through consumer runs in this process: its CPU is this process's (plus the 10/s offset polls).
    return await drain(admin, groupId, target, low, startedAt, () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1e6;
    });
  } finally {
    await consumer.disconnect();
    await producer.disconnect();
    await admin.deleteTopics({ topics: [out] }).catch(() => undefined);
    await admin.deleteGroups([groupId]).catch(() => undefined);
  }
}

export async function runDedup(apps?: AppTarget): Promise<DedupResults> {
  const { kafkaBrokers, redisUrl } = loadEndpoints();
  const kafka = new Kafka({ clientId: 'zp-bench', brokers: kafkaBrokers.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const prefix = `bench-${randomBytes(4).toString('hex')}:`;
  try {
    if (!(await admin.listTopics()).includes(RAW)) {
      await admin.createTopics({
        topics: [{ topic: RAW, numPartitions: DEFAULT_PARTITIONS[RAW] ?? 12 }],
        waitForLeaders: true,
      });
    }
    // Someone else's dedup (an e2e test) in the group would share the partitions and the measurement, and ours
    // would steal theirs: wait for the group to be empty first.
    const waitUntil = Date.now() + Number(process.env.BENCH_WAIT_GROUP_S ?? 180) * 1000;
    let otherMembers = 0;
    for (;;) {
      otherMembers = (await admin.describeGroups([DEDUP_GROUP])).groups[0]?.members.length ?? 0;
      if (otherMembers === 0 || Date.now() > waitUntil) break;
      process.stderr.write(
        `  ${DEDUP_GROUP} has ${otherMembers} member(s) (someone else's dedup); waiting for it to be empty…\n`,
      );
      await sleep(3_000);
    }
    if (otherMembers > 0)
      process.stderr.write(
        `WARNING: ${DEDUP_GROUP} already has ${otherMembers} member(s) ` +
          `(someone else's dedup): the measurement is shared\n`,
      );

    const { messages, duplicates } = buildMessages();
    const avgValueBytes = Math.round(messages.reduce((n, m) => n + (m.value as Buffer).length, 0) / messages.length);
    const { low } = await topicEnds(admin, RAW);
    const start = await committed(admin, DEDUP_GROUP, RAW, low);
    const before = await topicEnds(admin, RAW);
    const backlogBefore = lagTo(before.high, start);
    process.stderr.write(
      `dedup bench: producing ${fmt(N)} raw deliveries (${fmt(duplicates)} duplicates, ` +
        `~${avgValueBytes} B); backlog before: ${fmt(backlogBefore)}\n`,
    );
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    for (let i = 0; i < messages.length; i += 2_000) {
      await producer.send({ topic: RAW, acks: -1, messages: messages.slice(i, i + 2_000) });
    }
    await producer.disconnect();
    const target = (await topicEnds(admin, RAW)).high;

    process.stderr.write(`  pass-through baseline over the same ${fmt(lagTo(target, start))} messages…\n`);
    const passResult = await passThrough(kafka, admin, start, target, low);
    process.stderr.write(`  pass-through ${JSON.stringify(passResult)}\n`);

    const startedAt = Date.now();
    const app = await startDistApp(
      'dedup',
      {
        KAFKA_BROKERS: kafkaBrokers,
        REDIS_URL: redisUrl,
        REDIS_KEY_PREFIX: prefix,
        LOG_LEVEL: 'warn',
        ...(process.env.ZP_TXLOG ? { ZP_TXLOG: process.env.ZP_TXLOG } : {}),
        ...(process.env.KAFKA_CLIENT ? { KAFKA_CLIENT: process.env.KAFKA_CLIENT } : {}),
      },
      60_000,
      apps,
    );
    let dedupResult: DrainResult;
    try {
      dedupResult = await drain(admin, DEDUP_GROUP, target, low, startedAt, () => processCpuSeconds(app.child.pid));
      otherMembers = Math.max(
        otherMembers,
        ((await admin.describeGroups([DEDUP_GROUP])).groups[0]?.members.length ?? 1) - 1,
      );
    } finally {
      await app.kill();
    }
    process.stderr.write(`  dedup ${JSON.stringify(dedupResult)}\n`);

    const redis = new Redis(redisUrl);
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}claim:*`, 'COUNT', 5_000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    const sample = keys.slice(0, 500);
    let bytes = 0;
    for (const k of sample) bytes += Number((await redis.call('MEMORY', 'USAGE', k, 'SAMPLES', '0')) ?? 0);
    // Drop this run's claims and tokens rather than leave ~40,000 keys per run for a day (DEDUP_WINDOW): a shared
    // Redis full of them skews every later memory measurement.
    cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5_000);
      cursor = next;
      if (batch.length > 0) await redis.unlink(...batch);
    } while (cursor !== '0');
    await redis.quit();
    return {
      n: N,
      duplicates,
      avgValueBytes,
      backlogBefore,
      otherMembers,
      dedup: dedupResult,
      passThrough: passResult,
      keys: keys.length,
      sampled: sample.length,
      bytesPerKey: sample.length ? bytes / sample.length : NaN,
    };
  } finally {
    await admin.disconnect();
  }
}

export function dedupMarkdown(r: DedupResults): string {
  const row = (name: string, x: DrainResult, base: string) =>
    `| ${name} | ${fmt(x.messages)} | ${fmt(x.rate)} | ${fmt(x.seconds, 2)} | ${fmt(x.wallSeconds, 2)} | ` +
    `${fmt((x.cpuS * 1e6) / x.measured)} µs (${fmt(x.cpuS / x.seconds, 2)} / ${fmt(x.brokerCores, 2)}) | ` +
    `${base} |`;
  return [
    `${fmt(r.n)} \`RawDelivery\` messages (${fmt(r.duplicates)} = ${Math.round((100 * r.duplicates) / r.n)}% ` +
      `duplicates, ~${fmt(r.avgValueBytes)} B each, meeting.started / participant_joined) pre-produced to ` +
      `\`${RAW}\`; ` +
      (`backlog of the dedup group before the run: ${fmt(r.backlogBefore)} ` +
        '(included in both rows: both drain the same offset range). ') +
      ('Rate = messages committed from the first committed progress to lag 0 ' +
        '(group join excluded); wall = process start → lag 0.') +
      (r.otherMembers > 0 ? ` **Warning: ${r.otherMembers} other member(s) were in the dedup group.**` : ''),
    '',
    '| consumer | messages | deliveries/s | s (progress→lag 0) | wall s | consumer CPU ' +
      'per delivery (consumer / broker cores) | vs pass-through |',
    '|---|---:|---:|---:|---:|---:|---:|',
    row(
      'dedup app (Redis `SET NX PX` claims per batch; outputs + offsets in ' +
        'Kafka transactions, merged across the 12 partitions)',
      r.dedup,
      ratio(r.dedup.rate, r.passThrough.rate),
    ),
    row(
      'pass-through kafkajs consumer (eachBatch → idempotent send to another topic → commit; baseline)',
      r.passThrough,
      '100%',
    ),
    '',
    "CPU per delivery: the consumer process's CPU time (user + system; /proc for dedup, `process.cpuUsage()` for " +
      'the in-process pass-through) over the measured part; in brackets the cores it and the Kafka broker ' +
      "used then (Redis and the bench's offset polls not counted).",
    '',
    `Redis: ${fmt(r.keys)} \`claim\` keys under the bench prefix; \`MEMORY USAGE\` (sample of ` +
      `${r.sampled}): **${fmt(r.bytesPerKey, 0)} B per claimed key**.`,
  ].join('\n');
}

if (require.main === module) {
  runDedup()
    .then((r) => {
      const md = dedupMarkdown(r);
      writeSection('dedup', md);
      process.stdout.write(`${md}\n`);
      process.exit(0);
    })
    .catch((err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    });
}
