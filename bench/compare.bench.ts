// Before/after in one run: BENCH_BASE_REF=<git ref> builds that commit in a cache outside the repo (lib/base-ref.ts)
// and runs the ingress, dedup and upload benches on its apps and on the current ones, in alternating rounds
// (BENCH_COMPARE_ROUNDS, default 3; BENCH_COMPARE=ingress,dedup,upload picks some). Run by run-all.ts, or alone:
// `BENCH_BASE_REF=53797b7^ node dist/bench/compare.bench.js`.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { TOPICS, decodeUploadResult } from '@zoom-pipeline/contracts';
import { loadEndpoints, removeBucket, uniqueName, uploaderS3Env } from '@zoom-pipeline/test-support';
import { startDownloadServer } from '@zoom-pipeline/zoom-sim';
import { runDedup } from './dedup.bench';
import { signedPool } from './ingress.bench';
import { item } from './upload.bench';
import { type AppTarget, CURRENT_TARGET, prepareBase } from './lib/base-ref';
import { fmt, kafkaBrokerPid, load, processCpuSeconds, sleep, startDistApp, writeSection } from './lib/bench-util';
import { pacedLoad } from './lib/paced-load';

const ROUNDS = Math.max(1, Number(process.env.BENCH_COMPARE_ROUNDS ?? 3));
const BENCHES = new Set((process.env.BENCH_COMPARE ?? 'dedup,upload,ingress').split(',').map((x) => x.trim()));
const INGRESS_S = Number(process.env.BENCH_COMPARE_INGRESS_S ?? 8);
const UPLOAD_MIB = Number(process.env.BENCH_COMPARE_UPLOAD_MIB ?? 256);

type Metrics = Record<string, number>;

interface Line {
  bench: string;
  /** Metric name → what it means, in table order. */
  metrics: Array<[string, string]>;
  base: Metrics[];
  current: Metrics[];
}

export interface CompareResults {
  base: string;
  current: string;
  rounds: number;
  lines: Line[];
  limits: string[];
}

async function ingressOnce(t: AppTarget): Promise<Metrics> {
  const { kafkaBrokers } = loadEndpoints();
  const secret = `bench-${randomBytes(12).toString('hex')}`;
  const pool = signedPool(secret);
  const app = await startDistApp(
    'ingress',
    { KAFKA_BROKERS: kafkaBrokers, ZOOM_WEBHOOK_SECRET_TOKEN: secret, LOG_LEVEL: 'warn' },
    60_000,
    t,
  );
  try {
    const pids = { serverPid: app.child.pid, brokerPid: kafkaBrokerPid() };
    const opts = { connections: 50, durationS: INGRESS_S, warmupS: 2, ...pids };
    const closed = await load(app.url, pool, opts);
    const paced = await pacedLoad(app.url, pool, { ...opts, warmupS: 1, rate: 2_000 });
    return {
      rps: closed.rps,
      closedCpuUs: ((closed.serverCpuS ?? NaN) * 1e6) / closed.ok,
      pacedP99: paced.p99,
      pacedCpuUs: ((paced.serverCpuS ?? NaN) * 1e6) / paced.ok,
    };
  } finally {
    await app.kill();
  }
}

async function dedupOnce(t: AppTarget): Promise<Metrics> {
  const r = await runDedup(t);
  return {
    rate: r.dedup.rate,
    cpuUs: (r.dedup.cpuS * 1e6) / r.dedup.measured,
    vsPass: r.dedup.rate / r.passThrough.rate,
    passCpuUs: (r.passThrough.cpuS * 1e6) / r.passThrough.measured,
  };
}

/** One recording of UPLOAD_MIB through a fresh uploader with its defaults: time and the uploader's CPU. */
async function uploadOnce(t: AppTarget): Promise<Metrics> {
  const e = loadEndpoints();
  const bucket = uniqueName('zp-bench-cmp');
  const kafka = new Kafka({ clientId: 'zp-bench-compare', brokers: [e.kafkaBrokers], logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const consumer = kafka.consumer({ groupId: `${bucket}-results` });
  const dl = await startDownloadServer();
  const done = new Set<string>();
  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topic: TOPICS.uploaded, fromBeginning: false });
  await consumer.run({
    eachMessage: async ({ message }) => {
      done.add(decodeUploadResult(message.value ?? Buffer.alloc(0)).fileId);
    },
  });
  // Only the settings both builds read (S3_SHA256 and S3_SHA256_METADATA are left at each build's default).
  const app = await startDistApp(
    'uploader',
    {
      KAFKA_BROKERS: e.kafkaBrokers,
      REDIS_URL: e.redisUrl,
      REDIS_KEY_PREFIX: `${bucket}:`,
      ...uploaderS3Env(e, bucket),
      LOG_LEVEL: 'warn',
    },
    60_000,
    t,
  );
  try {
    await sleep(5_000); // group joins
    const file = dl.addFile({ size: UPLOAD_MIB * 1024 * 1024, fileExtension: 'MP4' });
    const cpu0 = processCpuSeconds(app.child.pid);
    const t0 = Date.now();
    await producer.send({
      topic: TOPICS.files,
      acks: -1,
      messages: [{ key: file.fileId, value: JSON.stringify(item(file)) }],
    });
    const deadline = t0 + 15 * 60_000;
    while (!done.has(file.fileId)) {
      if (Date.now() > deadline) throw new Error(`${t.label}: upload not finished in 15 min`);
      await sleep(100);
    }
    const seconds = (Date.now() - t0) / 1000;
    return {
      mibps: UPLOAD_MIB / seconds,
      cpuMsPerMiB: ((processCpuSeconds(app.child.pid) - cpu0) * 1000) / UPLOAD_MIB,
    };
  } finally {
    await app.kill();
    await consumer.disconnect();
    await producer.disconnect();
    await dl.close();
    await removeBucket(bucket).catch(() => undefined);
  }
}

// Ingress last: its deliveries land on zoom.webhooks.raw, and a dedup run after it would drain them as a backlog.
const SPECS: Record<string, { run: (t: AppTarget) => Promise<Metrics>; metrics: Array<[string, string]> }> = {
  dedup: {
    run: dedupOnce,
    metrics: [
      ['rate', 'dedup deliveries/s'],
      ['cpuUs', 'dedup CPU per delivery, µs'],
      ['vsPass', 'throughput vs the pass-through consumer of the same round'],
      ['passCpuUs', 'pass-through CPU per delivery (same round, same build of the bench), µs'],
    ],
  },
  upload: {
    run: uploadOnce,
    metrics: [
      ['mibps', `one ${UPLOAD_MIB} MiB recording, MiB/s (defaults)`],
      ['cpuMsPerMiB', 'uploader CPU per MiB, ms'],
    ],
  },
  ingress: {
    run: ingressOnce,
    metrics: [
      ['rps', 'closed-loop deliveries/s (c=50)'],
      ['closedCpuUs', 'ingress CPU per delivery, closed loop, µs'],
      ['pacedP99', 'p99 at a paced 2,000/s, ms'],
      ['pacedCpuUs', 'ingress CPU per delivery, paced, µs'],
    ],
  },
};

export async function runCompare(ref: string): Promise<CompareResults> {
  const base = prepareBase(ref);
  const lines: Line[] = [];
  for (const [bench, spec] of Object.entries(SPECS)) {
    if (!BENCHES.has(bench)) continue;
    const line: Line = { bench, metrics: spec.metrics, base: [], current: [] };
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate who goes first, so a slow stretch of the shared machine does not always fall on one side.
      const order = round % 2 === 0 ? (['base', 'current'] as const) : (['current', 'base'] as const);
      for (const side of order) {
        const m = await spec.run(side === 'base' ? base : CURRENT_TARGET);
        line[side].push(m);
        process.stderr.write(`  compare ${bench} round ${round + 1} ${side}: ${JSON.stringify(m)}\n`);
      }
    }
    lines.push(line);
  }
  return {
    base: `${base.label}, Node ${nodeVersion(base.node)}`,
    current: `current checkout, Node ${process.version}`,
    rounds: ROUNDS,
    lines,
    limits: [
      'Both sides run on the bench code of the current checkout (load generators, pass-through consumer, ' +
        'zoom-sim); only the apps come from the base build.',
      "The apps get only settings both builds read; others stay at each build's own default (the uploader's " +
        'SHA-256 mode: `S3_SHA256_METADATA` before, `S3_SHA256` now).',
      'The ingress rounds come last and leave their deliveries on `zoom.webhooks.raw` for the next dedup started ' +
        'on the same Kafka (the dedup bench counts them as backlog).',
      'Checked for 53797b7^ (Node 24 from its lockfile) and 04a1776^ (system Node 20): same dist layout ' +
        '`dist/apps/<name>/src/main.js` and env names for Kafka, Redis, S3 and the webhook secret; a ref with ' +
        'another layout fails to start, naming the path it looked for.',
    ],
  };
}

const median = (xs: number[]): number => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export function compareMarkdown(r: CompareResults): string {
  const out = [
    `Before/after in one run (\`BENCH_BASE_REF\`): **base** = ${r.base}; **current** = ${r.current}. ` +
      `${r.rounds} rounds per bench, base and current alternating (who goes first alternates too). ` +
      'Medians, then every round in order.',
    '',
    '| bench | measure | base median | current median | current / base | base rounds | current rounds |',
    '|---|---|---:|---:|---:|---|---|',
  ];
  for (const l of r.lines) {
    for (const [key, what] of l.metrics) {
      const b = l.base.map((m) => m[key]);
      const c = l.current.map((m) => m[key]);
      const digits = key === 'vsPass' ? 2 : key === 'pacedP99' || key === 'mibps' || key === 'cpuMsPerMiB' ? 1 : 0;
      out.push(
        [
          l.bench,
          what,
          fmt(median(b), digits),
          fmt(median(c), digits),
          `${fmt(median(c) / median(b), 2)}x`,
          b.map((x) => fmt(x, digits)).join(', '),
          c.map((x) => fmt(x, digits)).join(', '),
        ]
          .join(' | ')
          .replace(/^/, '| ')
          .concat(' |'),
      );
    }
  }
  out.push('', 'Limits:', ...r.limits.map((x) => `- ${x}`));
  return out.join('\n');
}

/** The version a node binary reports (paths of this machine stay out of BENCHMARKS.md). */
function nodeVersion(node: string): string {
  return execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
}

/** `BENCH_BASE_REF=a,b`: one comparison per base, in order, all in the one `compare` section. */
export async function runCompares(refs: string): Promise<string> {
  const parts: string[] = [];
  for (const ref of refs
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean))
    parts.push(compareMarkdown(await runCompare(ref)));
  return parts.join('\n\n');
}

if (require.main === module) {
  const refs = process.env.BENCH_BASE_REF;
  if (!refs) {
    process.stderr.write('BENCH_BASE_REF=<git ref>[,<git ref>...] is required\n');
    process.exit(2);
  }
  runCompares(refs)
    .then((md) => {
      writeSection('compare', md);
      process.stdout.write(`${md}\n`);
      process.exit(0);
    })
    .catch((err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    });
}
