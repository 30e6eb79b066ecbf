// Ingress benchmark: our ingress (durable: Kafka acks=all before the 200) against a Go peer doing the same durable
// work and two non-durable baselines, in alternating rounds on the same machine. Run alone: `node
// dist/bench/ingress.bench.js`.
import { randomBytes } from 'node:crypto';
import { loadEndpoints } from '@zoom-pipeline/test-support';
import { recordingCompleted } from '@zoom-pipeline/zoom-sim';
import { signDelivery } from '@zoom-pipeline/zoom-webhook';
import { DEFAULT_PARTITIONS, TOPICS } from '@zoom-pipeline/contracts';
import { Kafka, logLevel } from 'kafkajs';
import {
  type BenchRequest,
  type LoadResult,
  fmt,
  kafkaBrokerPid,
  load,
  spawnServer,
  startDistApp,
  writeSection,
} from './lib/bench-util';
import { startGoPeer } from './lib/go-peer';
import { pacedLoad } from './lib/paced-load';

const POOL = 200;
const CONNECTIONS = 50;
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const WARMUP_S = 2;
const FIXED_RATE = 2_000;
// Rounds of (closed loop + paced) per server; BENCH_PACED_ROUNDS is the older name.
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? process.env.BENCH_PACED_ROUNDS ?? 4));
const PEER_TOPIC = 'bench.peer.raw';

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
    }) as unknown as {
      payload: { object: { recording_files: Array<Record<string, unknown>> } };
      download_token?: string;
    };
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

/** One server under test: started once, then loaded in every round (rotating order). */
interface Target {
  key: TargetKey;
  label: string;
  /** Also loaded paced at FIXED_RATE (the servers the p99 target compares). */
  paced: boolean;
  server?: { url: string; child: { pid?: number }; kill(): Promise<void> };
  /** Why the target could not be run (e.g. no Go toolchain), shown instead of its numbers. */
  skipped?: string;
  closed: LoadResult[];
  pacedRuns: LoadResult[];
}

export type TargetKey = 'ingress' | 'go' | 'fastify' | 'http';

export interface IngressResults {
  bodyBytes: number;
  rounds: number;
  targets: Record<TargetKey, Pick<Target, 'label' | 'skipped' | 'closed' | 'pacedRuns'>>;
}

export async function runIngress(): Promise<IngressResults> {
  const { kafkaBrokers } = loadEndpoints();
  const secret = `bench-${randomBytes(12).toString('hex')}`;
  const pool = signedPool(secret);
  const bodyBytes = Math.round(pool.reduce((n, r) => n + Buffer.byteLength(r.body), 0) / pool.length);
  const loadOpts = { connections: CONNECTIONS, durationS: DURATION_S, warmupS: WARMUP_S };
  const brokerPid = kafkaBrokerPid();
  process.stderr.write(
    `ingress bench: ${POOL} signed bodies of ~${bodyBytes} B, c=${CONNECTIONS}, ${ROUNDS} ` +
      `rounds of ${DURATION_S} s closed + ${DURATION_S} s paced\n`,
  );

  const targets: Target[] = [
    {
      key: 'ingress',
      label: '(a) ingress, Kafka `acks=all` before 200 (durable)',
      paced: true,
      closed: [],
      pacedRuns: [],
    },
    {
      key: 'go',
      label: '(g) Go peer: net/http + franz-go `ProduceSync`, acks=all idempotent, 200 after the ack (durable)',
      paced: true,
      closed: [],
      pacedRuns: [],
    },
    {
      key: 'fastify',
      label: '(b) bare Fastify, HMAC verify + 200 (not durable)',
      paced: true,
      closed: [],
      pacedRuns: [],
    },
    {
      key: 'http',
      label: '(c) node:http "200 then process" (Express-style, emulated: Express not installed; not durable)',
      paced: false,
      closed: [],
      pacedRuns: [],
    },
  ];
  const kafka = new Kafka({ clientId: 'bench-ingress', brokers: kafkaBrokers.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    // The peer appends the same records to a topic of its own with the raw topic's partition count, so the dedup
    // bench that follows sees only the ingress's records.
    await admin.deleteTopics({ topics: [PEER_TOPIC] }).catch(() => undefined);
    await admin.createTopics({
      topics: [{ topic: PEER_TOPIC, numPartitions: DEFAULT_PARTITIONS[TOPICS.raw] }],
      waitForLeaders: true,
    });
    for (const t of targets) {
      try {
        if (t.key === 'ingress')
          t.server = await startDistApp('ingress', {
            KAFKA_BROKERS: kafkaBrokers,
            ZOOM_WEBHOOK_SECRET_TOKEN: secret,
            LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
          });
        else if (t.key === 'go')
          t.server = await startGoPeer({ KAFKA_BROKERS: kafkaBrokers, ZOOM_WEBHOOK_SECRET_TOKEN: secret, PEER_TOPIC });
        else
          t.server = await spawnServer(t.key === 'fastify' ? 'fastify-ack' : 'http-ack', {
            ZOOM_WEBHOOK_SECRET_TOKEN: secret,
          });
      } catch (err) {
        if (t.key !== 'go') throw err;
        t.skipped = `not run: ${(err as Error).message.split('\n')[0]}`;
        process.stderr.write(`  go peer ${t.skipped}\n`);
      }
    }
    // Every server stays up (idle) while the others are loaded; the order rotates each round so that a slow
    // stretch of the shared machine does not always fall on the same server.
    const live = targets.filter((t) => t.server);
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < live.length; i++) {
        const t = live[(i + round) % live.length];
        const pids = { serverPid: t.server?.child.pid, brokerPid };
        const c = await load(t.server!.url, pool, { ...loadOpts, ...pids });
        t.closed.push(c);
        process.stderr.write(`  round ${round + 1} ${t.key} closed ${JSON.stringify(c)}\n`);
        if (t.paced) {
          const p = await pacedLoad(t.server!.url, pool, { ...loadOpts, warmupS: 1, rate: FIXED_RATE, ...pids });
          t.pacedRuns.push(p);
          process.stderr.write(`  round ${round + 1} ${t.key} @${FIXED_RATE}/s ${JSON.stringify(p)}\n`);
        }
      }
    }
  } finally {
    for (const t of targets) await t.server?.kill();
    await admin.deleteTopics({ topics: [PEER_TOPIC] }).catch(() => undefined);
    await admin.disconnect();
  }
  const out = {} as IngressResults['targets'];
  for (const t of targets)
    out[t.key] = { label: t.label, skipped: t.skipped, closed: t.closed, pacedRuns: t.pacedRuns };
  return { bodyBytes, rounds: ROUNDS, targets: out };
}

export const median = (xs: number[]): number => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const perDelivery = (cpuS: number | undefined, ok: number): number =>
  cpuS !== undefined && ok > 0 ? (cpuS * 1e6) / ok : Number.NaN;
const cores = (cpuS: number | undefined, durationS: number | undefined): number =>
  cpuS !== undefined && durationS ? cpuS / durationS : Number.NaN;
const list = (xs: number[], digits = 0): string => xs.map((x) => fmt(x, digits)).join(', ');
const spread = (xs: number[], digits = 0): string => `${fmt(median(xs), digits)} (${list(xs, digits)})`;

/** Per-round ratio a/b of two targets' figures (same round = same machine conditions), for the targets table. */
export function roundRatios(
  r: IngressResults,
  a: TargetKey,
  b: TargetKey,
  pick: (x: LoadResult) => number,
  paced = false,
): number[] {
  const xs = paced ? r.targets[a].pacedRuns : r.targets[a].closed;
  const ys = paced ? r.targets[b].pacedRuns : r.targets[b].closed;
  return xs.map((x, i) => (ys[i] ? pick(x) / pick(ys[i]) : Number.NaN)).filter((v) => Number.isFinite(v));
}
export const serverCpuPerDelivery = (x: LoadResult): number => perDelivery(x.serverCpuS, x.ok);

export interface IngressTarget {
  line: string;
  target: string;
  ratios: number[];
  met: boolean | undefined;
  /** Some rounds meet it and some do not. */
  mixed: boolean;
}

/** The three ingress targets, each as same-round ratios (median and every round). */
export function ingressTargets(r: IngressResults): IngressTarget[] {
  const p99 = roundRatios(r, 'ingress', 'go', (x) => x.p99, true);
  const rps = roundRatios(r, 'ingress', 'go', (x) => x.rps);
  const cpu = roundRatios(r, 'ingress', 'fastify', serverCpuPerDelivery);
  const verdict = (xs: number[], ok: (m: number) => boolean) => (xs.length ? ok(median(xs)) : undefined);
  // Rounds on both sides of the line: the median decides, but the run cannot tell (said in the targets table).
  const mixed = (xs: number[], ok: (m: number) => boolean) => xs.some(ok) && !xs.every(ok);
  return [
    {
      line: `ingress p99 at a paced ${fmt(FIXED_RATE)}/s vs the Go peer's`,
      target: '≤ 1.5x',
      ratios: p99,
      met: verdict(p99, (m) => m <= 1.5),
      mixed: mixed(p99, (m) => m <= 1.5),
    },
    {
      line: 'ingress closed-loop deliveries/s vs the Go peer',
      target: '≥ 1.0x',
      ratios: rps,
      met: verdict(rps, (m) => m >= 1.0),
      mixed: mixed(rps, (m) => m >= 1.0),
    },
    {
      line: 'ingress closed-loop CPU per delivery vs bare Fastify',
      target: '≤ 1.5x',
      ratios: cpu,
      met: verdict(cpu, (m) => m <= 1.5),
      mixed: mixed(cpu, (m) => m <= 1.5),
    },
  ];
}

export function ingressMarkdown(r: IngressResults): string {
  const t = r.targets;
  const go = t.go.closed.length ? t.go : undefined;
  const closedRow = (k: TargetKey) => {
    const x = t[k];
    if (x.skipped) return `| ${x.label} | ${x.skipped} | | | | | | | |`;
    const rps = x.closed.map((c) => c.rps);
    const vs = (b: TargetKey) =>
      t[b].closed.length ? `${fmt(median(roundRatios(r, k, b, (c) => c.rps)), 2)}x` : 'n/a';
    return (
      `| ${x.label} | ${spread(rps)} | ${fmt(median(x.closed.map((c) => c.p50)), 1)} | ` +
      `${fmt(median(x.closed.map((c) => c.p99)), 1)} | ${spread(x.closed.map(serverCpuPerDelivery))} | ` +
      `${fmt(median(x.closed.map((c) => perDelivery(c.brokerCpuS, c.ok))))} | ` +
      `${fmt(median(x.closed.map((c) => cores(c.serverCpuS, c.durationS))), 2)} / ` +
      `${fmt(median(x.closed.map((c) => cores(c.brokerCpuS, c.durationS))), 2)} / ` +
      `${fmt(median(x.closed.map((c) => cores(c.generatorCpuS, c.durationS))), 2)} | ${vs('go')} | ` +
      `${vs('fastify')} |`
    );
  };
  const pacedRow = (k: TargetKey) => {
    const x = t[k];
    if (x.skipped) return `| ${x.label} | ${x.skipped} | | | | | | |`;
    const p = x.pacedRuns;
    const bad = p.reduce((n, c) => n + c.non2xx + c.errors + c.timeouts, 0);
    const vsGo = go ? `${fmt(median(roundRatios(r, k, 'go', (c) => c.p99, true)), 2)}x` : 'n/a';
    const ok = p.reduce((n, c) => n + c.ok, 0);
    const brokerPerDelivery = fmt(median(p.map((c) => perDelivery(c.brokerCpuS, c.ok))));
    const serverCores = fmt(median(p.map((c) => cores(c.serverCpuS, c.durationS))), 2);
    const brokerCores = fmt(median(p.map((c) => cores(c.brokerCpuS, c.durationS))), 2);
    return (
      `| ${x.label} | ${fmt(median(p.map((c) => c.p50)), 1)} | ${spread(
        p.map((c) => c.p99),
        1,
      )} | ` +
      `${fmt(ok)} / ${fmt(bad)} | ${spread(p.map(serverCpuPerDelivery))} | ${brokerPerDelivery} | ` +
      `${serverCores} / ${brokerCores} | ${vsGo} |`
    );
  };
  const errs = (['ingress', 'go', 'fastify', 'http'] as TargetKey[])
    .map((k) => t[k].closed.reduce((n, c) => n + c.non2xx + c.errors + c.timeouts, 0))
    .reduce((a, b) => a + b, 0);
  return [
    `Signed ~${fmt(r.bodyBytes)} B \`recording.completed\` bodies (pool of ${POOL}, distinct meeting UUIDs), load ` +
      `generator on the same machine. All servers are started once and stay up; ${r.rounds} rounds, each ` +
      'loading every server in turn (the order rotates per round): closed loop = autocannon ' +
      `c=${CONNECTIONS}, as fast as answers come, ${DURATION_S} s after a ${WARMUP_S} s warm-up; paced = ` +
      `one request due every ${fmt(1000 / FIXED_RATE, 1)} ms whatever the answers (open loop, ` +
      `\`bench/lib/paced-load.ts\`, up to ${CONNECTIONS} keep-alive connections, latency from the time ` +
      `each request was due), ${DURATION_S} s after 1 s. Medians over the rounds, every round in brackets; ` +
      `ratios are medians of the same-round ratios. The Go peer (\`bench/peers/go\`) appends the same ` +
      `record (body bytes, meeting UUID key, the three \`zp-\` headers) to a scratch topic with the raw ` +
      `topic's ${DEFAULT_PARTITIONS[TOPICS.raw]} partitions.`,
    '',
    'Closed loop:',
    '',
    '| server | deliveries/s (2xx) | p50 ms | p99 ms | server CPU per delivery, µs | broker CPU per ' +
      'delivery, µs | cores: server / broker / generator | vs Go peer | vs (b) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...(['ingress', 'go', 'fastify', 'http'] as TargetKey[]).map(closedRow),
    '',
    `Paced open loop at ${fmt(FIXED_RATE)} deliveries/s:`,
    '',
    '| server | p50 ms | p99 ms | 2xx / non-2xx + errors (all rounds) | server CPU per delivery, µs | ' +
      'broker CPU per delivery, µs | cores: server / broker | p99 vs Go peer |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...(['ingress', 'go', 'fastify'] as TargetKey[]).map(pacedRow),
    '',
    `CPU per delivery: the process's CPU time (user + system, from /proc) over its 2xx answers in the measured part ` +
      `of the run; the broker's is the Kafka broker of scripts/infra.sh over the same answers (for the ` +
      `servers that do not write to Kafka it is the broker's idle cost, the noise floor). Closed-loop ` +
      `non-2xx + errors, all servers and rounds: ${fmt(errs)}.`,
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
