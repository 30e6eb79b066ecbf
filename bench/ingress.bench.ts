// Ingress benchmark: our ingress (durable: Kafka acks=all before the 200) against two non-durable baselines
// measured in the same run on the same machine. Run alone: `node dist/bench/ingress.bench.js`.
import { randomBytes } from 'node:crypto';
import { loadEndpoints } from '@zoom-pipeline/test-support';
import { recordingCompleted } from '@zoom-pipeline/zoom-sim';
import { signDelivery } from '@zoom-pipeline/zoom-webhook';
import { type BenchRequest, type LoadResult, fmt, kafkaBrokerPid, load, processCpuSeconds, ratio, spawnServer, startDistApp, writeSection } from './lib/bench-util';
import { type PacedRounds, pacedRounds } from './lib/paced-load';

const POOL = 200;
const CONNECTIONS = 50;
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const WARMUP_S = 2;
const FIXED_RATE = 2_000;
const PACED_ROUNDS = Math.max(1, Number(process.env.BENCH_PACED_ROUNDS ?? 3));

export interface IngressResults {
  bodyBytes: number;
  ingress: LoadResult;
  fastify: LoadResult;
  http: LoadResult;
  /** Cores the Kafka broker (started by scripts/infra.sh) used during (a)'s closed-loop run; NaN if unknown. */
  brokerCores: number;
  ingressFixed: PacedRounds;
  fastifyFixed: PacedRounds;
}

/** 200 signed ~2 KB `recording.completed` bodies, distinct meeting UUIDs, signed now (valid for the 2 h tolerance). */
export function signedPool(secret: string): BenchRequest[] {
  const ts = String(Math.floor(Date.now() / 1000));
  const pool: BenchRequest[] = [];
  for (let i = 0; i < POOL; i++) {
    const event = recordingCompleted({
      // Loopback discard port, and no download_url below: the bench's deliveries land on the shared zoom.webhooks.raw,
      // and a dedup started later must not queue downloads of them for anyone's uploader (a file without file_size
      // is queued now; one without download_url goes to zoom.recording.failed).
      downloadBaseUrl: 'http://127.0.0.1:9',
      files: [
        { fileType: 'MP4', size: 734_003_200 },
        { fileType: 'M4A', size: 61_865_984 },
        { fileType: 'TIMELINE', size: 12_288 },
      ],
    }) as unknown as { payload: { object: { recording_files: Array<Record<string, unknown>> } }; download_token?: string };
    for (const f of event.payload.object.recording_files) delete f.download_url;
    event.download_token = randomBytes(180).toString('base64url');
    const body = JSON.stringify(event);
    pool.push({
      path: '/webhooks/zoom',
      body,
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'user-agent': 'Zoom Marketplace/1.0a',
        'x-zm-request-timestamp': ts,
        'x-zm-signature': signDelivery(secret, ts, body),
        'x-zm-trackingid': `v=2.0;clid=us06;rid=${randomBytes(8).toString('hex')}`,
      },
    });
  }
  return pool;
}

export async function runIngress(): Promise<IngressResults> {
  const { kafkaBrokers } = loadEndpoints();
  const secret = `bench-${randomBytes(12).toString('hex')}`;
  const pool = signedPool(secret);
  const bodyBytes = Math.round(pool.reduce((n, r) => n + Buffer.byteLength(r.body), 0) / pool.length);
  const loadOpts = { connections: CONNECTIONS, durationS: DURATION_S, warmupS: WARMUP_S };
  process.stderr.write(`ingress bench: ${POOL} signed bodies of ~${bodyBytes} B, c=${CONNECTIONS}, ${DURATION_S} s after ${WARMUP_S} s warm-up\n`);

  const ingress = await startDistApp('ingress', { KAFKA_BROKERS: kafkaBrokers, ZOOM_WEBHOOK_SECRET_TOKEN: secret, LOG_LEVEL: 'warn' });
  let a: LoadResult;
  let brokerCores: number;
  let aFixed: PacedRounds;
  try {
    const brokerPid = kafkaBrokerPid();
    const brokerBefore = processCpuSeconds(brokerPid);
    a = await load(ingress.url, pool, { ...loadOpts, serverPid: ingress.child.pid });
    brokerCores = (processCpuSeconds(brokerPid) - brokerBefore) / (a.durationS ?? DURATION_S);
    process.stderr.write(`  (a) ingress  ${JSON.stringify(a)}\n`);
    aFixed = await pacedRounds(ingress.url, pool, { ...loadOpts, rate: FIXED_RATE }, PACED_ROUNDS);
    process.stderr.write(`  (a) ingress @${FIXED_RATE}/s ${JSON.stringify(aFixed)}\n`);
  } finally {
    await ingress.kill();
  }

  const fastify = await spawnServer('fastify-ack', { ZOOM_WEBHOOK_SECRET_TOKEN: secret });
  let b: LoadResult;
  let bFixed: PacedRounds;
  try {
    b = await load(fastify.url, pool, { ...loadOpts, serverPid: fastify.child.pid });
    process.stderr.write(`  (b) fastify  ${JSON.stringify(b)}\n`);
    bFixed = await pacedRounds(fastify.url, pool, { ...loadOpts, rate: FIXED_RATE }, PACED_ROUNDS);
    process.stderr.write(`  (b) fastify @${FIXED_RATE}/s ${JSON.stringify(bFixed)}\n`);
  } finally {
    await fastify.kill();
  }

  const http = await spawnServer('http-ack', { ZOOM_WEBHOOK_SECRET_TOKEN: secret });
  let c: LoadResult;
  try {
    c = await load(http.url, pool, { ...loadOpts, serverPid: http.child.pid });
    process.stderr.write(`  (c) node:http ${JSON.stringify(c)}\n`);
  } finally {
    await http.kill();
  }
  return { bodyBytes, ingress: a, fastify: b, http: c, brokerCores, ingressFixed: aFixed, fastifyFixed: bFixed };
}

export function ingressMarkdown(r: IngressResults): string {
  const row = (name: string, x: LoadResult, base: string) =>
    `| ${name} | ${fmt(x.rps)} | ${fmt(x.p50, 1)} | ${fmt(x.p99, 1)} | ${fmt(x.ok)} / ${fmt(x.non2xx)} / ${fmt(x.errors + x.timeouts)} | ${cpu(x)} | ${base} |`;
  // Server CPU per delivery, the server's cores and the load generator's cores during the measured run.
  const cpu = (x: LoadResult) =>
    x.serverCpuS !== undefined && x.durationS && x.ok > 0
      ? `${fmt((x.serverCpuS * 1e6) / x.ok)} µs (${fmt(x.serverCpuS / x.durationS, 2)} / ${fmt((x.generatorCpuS ?? Number.NaN) / x.durationS, 2)})`
      : 'n/a';
  const paced = (name: string, x: PacedRounds, base: string) => {
    const m = x.median;
    const range = x.p99s.length > 1 ? ` (${x.p99s.map((p) => fmt(p, 1)).join(', ')})` : '';
    return `| ${name}, paced open loop at ${fmt(FIXED_RATE)} req/s | ${fmt(m.rps)} | ${fmt(m.p50, 1)} | ${fmt(m.p99, 1)}${range} | ${fmt(m.ok)} / ${fmt(m.non2xx)} / ${fmt(m.errors + m.timeouts)} | | ${base} |`;
  };
  return [
    `Signed ~${fmt(r.bodyBytes)} B \`recording.completed\` bodies (pool of ${POOL}, distinct meeting UUIDs), autocannon c=${CONNECTIONS} (closed loop: as fast as answers come), ${DURATION_S} s after a ${WARMUP_S} s warm-up; load generator on the same machine. Paced rows: one request due every ${fmt(1000 / FIXED_RATE, 1)} ms whatever the answers (open loop, \`bench/lib/paced-load.ts\`), up to ${CONNECTIONS} keep-alive connections, latency from the time each request was due; ${PACED_ROUNDS} rounds of ${DURATION_S} s, the median round shown with every round's p99 in brackets.`,
    '',
    '| target | deliveries/s (2xx) | p50 ms | p99 ms | 2xx / non-2xx / errors | server CPU per delivery (server / generator cores) | vs (b) |',
    '|---|---:|---:|---:|---:|---:|---:|',
    row('(a) ingress, Kafka `acks=all` before 200 (durable)', r.ingress, ratio(r.ingress.rps, r.fastify.rps)),
    row('(b) bare Fastify, HMAC verify + 200 (not durable, baseline)', r.fastify, '100%'),
    row('(c) node:http "200 then process" (Express-style, emulated: Express not installed)', r.http, ratio(r.http.rps, r.fastify.rps)),
    paced('(a) ingress', r.ingressFixed, `p99 ${ratio(r.ingressFixed.median.p99, r.fastifyFixed.median.p99)} of (b)'s`),
    paced('(b) bare Fastify', r.fastifyFixed, '100%'),
    '',
    `Server CPU per delivery: the server process's CPU time (user + system, from /proc) over its 2xx answers in the closed-loop run; in brackets the cores the server and the load generator used. During (a) the Kafka broker used ${fmt(r.brokerCores, 2)} cores: the machine has 2.`,
  ].join('\n');
}

if (require.main === module) {
  runIngress()
    .then((r) => {
      const md = ingressMarkdown(r);
      writeSection('ingress', md);
      process.stdout.write(`${md}\n`);
      process.exit(0);
    })
    .catch((err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    });
}
