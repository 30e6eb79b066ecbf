// Experiment, not part of `npm run bench`: the ingress's publish pattern (idempotent producer, acks=all, one batch
// in flight, whatever queued meanwhile leaves in the next) with kafkajs 2.2.4 and with @platformatic/kafka 1.x
// (the publish producer's default since this comparison), same broker, same run, alternating.
// Records like the ingress's: a 2,300-byte value, a 36-byte key out of 200, the three format-2 headers.
//
// Reproduce (both clients are dependencies; the publish producer uses @platformatic/kafka by default since this run):
//   bash scripts/infra.sh up
//   node bench/experiments/kafka-clients.mjs            # RATE=6000 for a higher offered load
//
// Reports, per client and round: achieved rate, this process's CPU per message (the client plus the 1 ms pacing
// timer, which is the same for both), the broker's CPU per message, and the latency from when each message was due to
// its acknowledgement.
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const { Kafka, logLevel, Partitioners } = require('kafkajs');
// The Java-compatible partitioner: platformatic's default (`murmur2 >>> 0`) maps keys to other partitions than
// kafkajs, Java and the file log (`murmur2 & 0x7fffffff`), which would split one meeting over two partitions.
const { Producer, ProduceAcks, stringSerializer, compatibilityPartitioner } = await import('@platformatic/kafka');
const { readFileSync } = require('node:fs');
const { dirname, join } = require('node:path');
const { homedir } = require('node:os');

const endpoints = JSON.parse(
  readFileSync(
    process.env.ZP_ENDPOINTS_FILE ??
      join(process.env.ZP_CACHE_DIR ?? join(homedir(), '.cache', 'zoom-pipeline'), 'run', 'endpoints.json'),
    'utf8',
  ),
);
const brokers = endpoints.kafkaBrokers.split(',');
// The broker's CPU (Linux /proc), when it is the one scripts/infra.sh started: a client that is cheaper for itself
// may cost the broker more.
const brokerPidFile = join(
  dirname(
    process.env.ZP_ENDPOINTS_FILE ??
      join(process.env.ZP_CACHE_DIR ?? join(homedir(), '.cache', 'zoom-pipeline'), 'run', 'endpoints.json'),
  ),
  'kafka',
  'kafka.pid',
);
function brokerCpuSeconds() {
  try {
    const stat = readFileSync(`/proc/${readFileSync(brokerPidFile, 'utf8').trim()}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return Number.NaN;
  }
}
const RATE = Number(process.env.RATE ?? 2000);
const SECONDS = Number(process.env.SECONDS ?? 8);
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const topic = `bench-kafka-clients-${Date.now()}`;
const body = Buffer.alloc(2300, 'x');
const headers = {
  'zp-delivery': JSON.stringify({
    v: 2,
    id: 'x'.repeat(36),
    receivedAt: new Date().toISOString(),
    app: 'default',
    sourceIp: '127.0.0.1',
    event: 'recording.completed',
    timestamp: '1700000000',
  }),
  'zp-delivery-id': 'x'.repeat(36),
  'zp-event': 'recording.completed',
};
const keys = Array.from({ length: 200 }, (_, i) => `meeting-${String(i).padStart(28, '0')}`);

const kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic, numPartitions: 12 }], waitForLeaders: true });

const clients = {
  kafkajs: () => {
    const p = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    return {
      connect: () => p.connect(),
      send: (batch) =>
        p.send({ topic, acks: -1, messages: batch.map((i) => ({ key: keys[i % keys.length], value: body, headers })) }),
      close: () => p.disconnect(),
    };
  },
  platformatic: () => {
    const p = new Producer({
      clientId: 'bench-kafka-clients',
      bootstrapBrokers: brokers,
      idempotent: true,
      acks: ProduceAcks.ALL,
      partitioner: compatibilityPartitioner,
      serializers: {
        key: stringSerializer,
        value: (v) => v,
        headerKey: stringSerializer,
        headerValue: stringSerializer,
      },
    });
    const headerMap = new Map(Object.entries(headers));
    return {
      connect: async () => undefined,
      send: (batch) =>
        p.send({
          messages: batch.map((i) => ({ topic, key: keys[i % keys.length], value: body, headers: headerMap })),
        }),
      close: () => p.close(),
    };
  },
};

async function round(name) {
  const client = clients[name]();
  await client.connect();
  await client.send([0]); // connect and fetch metadata outside the measurement
  const latencies = [];
  let queue = [];
  let busy = false;
  const t0 = performance.now();
  const due = (i) => t0 + (i * 1000) / RATE;
  const flush = async () => {
    if (busy || queue.length === 0) return;
    busy = true;
    const batch = queue;
    queue = [];
    await client.send(batch);
    const now = performance.now();
    for (const i of batch) latencies.push(now - due(i));
    busy = false;
    setImmediate(flush);
  };
  const total = RATE * SECONDS;
  const cpu0 = process.cpuUsage();
  const broker0 = brokerCpuSeconds();
  let sent = 0;
  await new Promise((resolve) => {
    const tick = () => {
      const upTo = Math.min(total, Math.floor(((performance.now() - t0) * RATE) / 1000) + 1);
      while (sent < upTo) queue.push(sent++);
      void flush();
      if (latencies.length >= total) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  const cpu = process.cpuUsage(cpu0);
  const brokerUs = ((brokerCpuSeconds() - broker0) * 1e6) / total;
  const elapsed = (performance.now() - t0) / 1000;
  await client.close();
  latencies.sort((a, b) => a - b);
  const q = (x) => latencies[Math.ceil(x * latencies.length) - 1].toFixed(1);
  return (
    `${name.padEnd(12)} ${(total / elapsed).toFixed(0)}/s, CPU ${((cpu.user + cpu.system) / total).toFixed(0)} ` +
    `µs/message (broker ${brokerUs.toFixed(0)}), p50 ${q(0.5)} ms, p99 ${q(0.99)} ms`
  );
}

for (let r = 0; r < ROUNDS; r++) {
  for (const name of r % 2 ? ['platformatic', 'kafkajs'] : ['kafkajs', 'platformatic']) console.log(await round(name));
}
await admin.deleteTopics({ topics: [topic] });
await admin.disconnect();
process.exit(0);
