// Uploader throughput and memory: our uploader vs `rclone copyurl` (Debian's rclone) for one large file, same
// source (zoom-sim) and same S3 server in the same run; and 1 vs 2 uploader processes for 8 files.
// `node dist/bench/upload.bench.js` (BENCH_UPLOAD_BIG_MIB, BENCH_UPLOAD_SMALL_MIB shorten it).
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { type FileWorkItem, TOPICS, decodeUploadResult } from '@zoom-pipeline/contracts';
import { loadEndpoints, removeBucket, uniqueName } from '@zoom-pipeline/test-support';
import { type DownloadServer, type SimFile, startDownloadServer, zoomMeetingUuid } from '@zoom-pipeline/zoom-sim';
import { type DistApp, fmt, sleep, startDistApp, writeSection } from './lib/bench-util';

const MiB = 1024 * 1024;
const BIG = Number(process.env.BENCH_UPLOAD_BIG_MIB ?? 2048) * MiB;
const SMALL = Number(process.env.BENCH_UPLOAD_SMALL_MIB ?? 256) * MiB;
const PART = '16MiB';
const QUEUE = '4';
const ROUNDS = Math.max(1, Number(process.env.BENCH_UPLOAD_ROUNDS ?? 3));

interface Run {
  seconds: number;
  peakMiB: number;
}

/** Median seconds and median peak RSS, each over the runs. */
function median(runs: Run[]): Run {
  const mid = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  return { seconds: mid(runs.map((r) => r.seconds)), peakMiB: mid(runs.map((r) => r.peakMiB)) };
}

export interface UploadBenchResult {
  big: {
    bytes: number;
    /** Defaults: the SHA-256 also written to the `<key>.sha256` sidecar object after the upload (S3_SHA256=sidecar). */
    ours: Run;
    /** S3_SHA256=none: the same work as rclone (bytes stored, hash reported in the event only). */
    oursNoCopy: Run;
    /** S3_SHA256=metadata (the default before): a server-side copy that writes sha256 into the metadata. */
    oursCopy: Run;
    rclone: Run;
    rounds: number;
    runs: { ours: Run[]; oursNoCopy: Run[]; oursCopy: Run[]; rclone: Run[] };
    /** 1-minute load average before each run: how busy the shared machine was. */
    loadBefore: number[];
  };
  scaling: {
    files: number;
    bytes: number;
    one: number;
    two: number;
    oneCpu: number;
    twoCpu: number;
    oneIowait: number;
    twoIowait: number;
    /** Cores used by zoom-sim (the bench process), S3Proxy and the uploader processes, each run. */
    oneCores: { sim: number; s3: number; uploaders: number };
    twoCores: { sim: number; s3: number; uploaders: number };
  };
}

function vmhwmMiB(pid: number): number {
  try {
    return Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** Machine-wide CPU busy fraction between two /proc/stat samples (all cores). */
function cpuTimes(): { busy: number; iowait: number; total: number } {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + (f[4] ?? 0);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, iowait: f[4] ?? 0, total };
}

/** CPU seconds (user + system) a process has used so far; 0 when it is gone. */
function cpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return 0;
  }
}

function infraPid(service: string): number | undefined {
  // Where scripts/infra.sh keeps its pid files (same defaults).
  const cache =
    process.env.ZP_CACHE_DIR ??
    path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'zoom-pipeline');
  const dir = path.join(process.env.ZP_RUN_DIR ?? path.join(cache, 'run'), service, `${service}.pid`);
  try {
    return Number(fs.readFileSync(dir, 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}

export function item(f: SimFile): FileWorkItem {
  return {
    v: 1,
    fileId: f.fileId,
    canonicalId: `bench-${f.fileId}`,
    app: 'default',
    accountId: 'bench',
    meetingUuid: zoomMeetingUuid(),
    meetingId: '1',
    topic: 'bench',
    hostId: 'h',
    meetingStartTime: '2026-11-23T10:00:00Z',
    recordingStart: '2026-11-23T10:00:00Z',
    recordingEnd: '2026-11-23T11:00:00Z',
    fileType: 'MP4',
    fileExtension: 'MP4',
    fileSize: f.size,
    downloadUrl: f.downloadUrl,
    downloadToken: f.token,
    tokenReceivedAt: new Date().toISOString(),
  };
}

export async function runUpload(): Promise<UploadBenchResult> {
  // The peer comes from Debian: installed on first use, so a fresh machine runs the bench unattended.
  const tool = spawnSync('bash', [path.join(__dirname, '../../scripts/infra.sh'), 'tool', 'rclone'], {
    stdio: 'inherit',
  });
  if (tool.status !== 0)
    throw new Error('rclone is needed for the upload benchmark and could not be installed (see above)');
  const e = loadEndpoints();
  const bucket = uniqueName('zp-bench-upl');
  const kafka = new Kafka({ clientId: 'zp-bench-upload', brokers: [e.kafkaBrokers], logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const dl: DownloadServer = await startDownloadServer();
  const env = {
    KAFKA_BROKERS: e.kafkaBrokers,
    REDIS_URL: e.redisUrl,
    REDIS_KEY_PREFIX: `${bucket}:`,
    S3_BUCKET: bucket,
    S3_ENDPOINT: e.s3.endpoint,
    S3_REGION: e.s3.region,
    S3_FORCE_PATH_STYLE: 'true',
    S3_CREATE_BUCKET: 'true',
    S3_PART_SIZE: PART,
    S3_QUEUE_SIZE: QUEUE,
    AWS_ACCESS_KEY_ID: e.s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: e.s3.secretAccessKey,
    ZOOM_DOWNLOAD_ALLOWED_HOSTS: '127.0.0.1,127.0.0.2',
    UPLOAD_CONCURRENCY: '2',
    LOG_LEVEL: 'warn',
  };
  // Results are read by a consumer of zoom.recording.uploaded started now (only new records matter).
  const done = new Map<string, number>();
  const consumer = kafka.consumer({ groupId: `${bucket}-results` });
  await consumer.connect();
  await consumer.subscribe({ topic: TOPICS.uploaded, fromBeginning: false });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const r = decodeUploadResult(message.value ?? Buffer.alloc(0));
      done.set(r.fileId, Date.now());
    },
  });
  await sleep(3_000);
  const waitAll = async (ids: string[], timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!ids.every((id) => done.has(id))) {
      if (Date.now() > deadline) throw new Error(`uploads not finished within ${timeoutMs} ms`);
      await sleep(200);
    }
  };
  const apps: DistApp[] = [];
  try {
    // 1. One big file, four ways, in rounds (BENCH_UPLOAD_ROUNDS, default 3) that alternate the order: our uploader
    // with the defaults, ours with S3_SHA256=none, ours with S3_SHA256=metadata, rclone copyurl of the pre-signed URL
    // (rclone cannot
    // send the Bearer to hop 1 only). Each run is a fresh process (its own peak RSS) and a fresh file id; the
    // table reports the median of each, since single runs on this shared machine vary by ±20%.
    const timeOurs = async (extra: Record<string, string>): Promise<Run> => {
      const file = dl.addFile({ size: BIG, fileExtension: 'MP4' });
      const app = await startDistApp('uploader', { ...env, ...extra });
      try {
        await sleep(5_000); // group join
        const t0 = Date.now();
        await producer.send({
          topic: TOPICS.files,
          acks: -1,
          messages: [{ key: file.fileId, value: JSON.stringify(item(file)) }],
        });
        await waitAll([file.fileId], 30 * 60_000);
        return { seconds: (Date.now() - t0) / 1000, peakMiB: vmhwmMiB(app.child.pid!) };
      } finally {
        await app.kill();
      }
    };
    const timeRclone = () =>
      new Promise<Run>((resolve, reject) => {
        const file = dl.addFile({ size: BIG, fileExtension: 'MP4' });
        const t = Date.now();
        const env2: NodeJS.ProcessEnv = {
          ...process.env,
          RCLONE_CONFIG_B_TYPE: 's3',
          RCLONE_CONFIG_B_PROVIDER: 'Other',
          RCLONE_CONFIG_B_ENDPOINT: e.s3.endpoint,
          RCLONE_CONFIG_B_ACCESS_KEY_ID: e.s3.accessKeyId,
          RCLONE_CONFIG_B_SECRET_ACCESS_KEY: e.s3.secretAccessKey,
          RCLONE_CONFIG_B_REGION: e.s3.region,
          RCLONE_CONFIG_B_FORCE_PATH_STYLE: 'true',
          RCLONE_S3_CHUNK_SIZE: PART.replace('MiB', 'Mi'),
          RCLONE_S3_UPLOAD_CONCURRENCY: QUEUE,
        };
        delete env2.AWS_CA_BUNDLE; // rclone 1.60 fails when it is set
        const child = spawn(
          'rclone',
          ['copyurl', dl.presignedUrl(file.fileId), `b:${bucket}/rclone-${file.fileId}.mp4`],
          { env: env2, stdio: ['ignore', 'ignore', 'pipe'] },
        );
        let peak = 0;
        let err = '';
        child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
        const poll = setInterval(() => (peak = Math.max(peak, vmhwmMiB(child.pid!))), 50);
        child.on('error', (x) => reject(x));
        child.on('exit', (code) => {
          clearInterval(poll);
          if (code === 0) resolve({ seconds: (Date.now() - t) / 1000, peakMiB: peak });
          else reject(new Error(`rclone copyurl exit ${code}: ${err.trim().split('\n').pop()}`));
        });
      });
    const runs = { ours: [] as Run[], oursNoCopy: [] as Run[], oursCopy: [] as Run[], rclone: [] as Run[] };
    const steps: Array<[keyof typeof runs, () => Promise<Run>]> = [
      ['ours', () => timeOurs({})],
      ['oursNoCopy', () => timeOurs({ S3_SHA256: 'none' })],
      ['oursCopy', () => timeOurs({ S3_SHA256: 'metadata' })],
      ['rclone', timeRclone],
    ];
    const loadBefore: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // Rotate the order so no variant always runs first (cold caches) or last.
      for (let i = 0; i < steps.length; i++) {
        const [name, run] = steps[(i + round) % steps.length];
        loadBefore.push(os.loadavg()[0]);
        const r = await run();
        process.stderr.write(`  upload round ${round + 1} ${name} ${JSON.stringify(r)}\n`);
        runs[name].push(r);
      }
    }
    // 3. Scaling: 8 files with one process, then 8 new files with two.
    const batch = async () => Array.from({ length: 8 }, () => dl.addFile({ size: SMALL, fileExtension: 'MP4' }));
    const s3Pid = infraPid('s3');
    const timed = async (files: SimFile[]) => {
      const t = Date.now();
      const c0 = cpuTimes();
      const uploaders = apps.map((a) => a.child.pid);
      const p0 = { sim: cpuSeconds(process.pid), s3: cpuSeconds(s3Pid), up: uploaders.map(cpuSeconds) };
      await producer.send({
        topic: TOPICS.files,
        acks: -1,
        messages: files.map((f) => ({ key: f.fileId, value: JSON.stringify(item(f)) })),
      });
      await waitAll(
        files.map((f) => f.fileId),
        30 * 60_000,
      );
      const c1 = cpuTimes();
      const total = Math.max(1, c1.total - c0.total);
      const seconds = (Date.now() - t) / 1000;
      // Share of ONE core each used over the run: where the machine's two cores went.
      const cores = {
        sim: (cpuSeconds(process.pid) - p0.sim) / seconds,
        s3: (cpuSeconds(s3Pid) - p0.s3) / seconds,
        uploaders: uploaders.reduce<number>((sum, pid, i) => sum + cpuSeconds(pid) - (p0.up[i] ?? 0), 0) / seconds,
      };
      return { seconds, cpu: (c1.busy - c0.busy) / total, iowait: (c1.iowait - c0.iowait) / total, cores };
    };
    // One file at a time per process, so "2 processes" means twice the transfers in flight.
    const scalingEnv = { ...env, UPLOAD_CONCURRENCY: '1' };
    apps.push(await startDistApp('uploader', scalingEnv));
    await sleep(5_000); // group join
    const one = await timed(await batch());
    apps.push(await startDistApp('uploader', scalingEnv));
    await sleep(8_000); // rebalance
    const two = await timed(await batch());
    return {
      big: {
        bytes: BIG,
        ours: median(runs.ours),
        oursNoCopy: median(runs.oursNoCopy),
        oursCopy: median(runs.oursCopy),
        rclone: median(runs.rclone),
        rounds: ROUNDS,
        runs,
        loadBefore,
      },
      scaling: {
        files: 8,
        bytes: 8 * SMALL,
        one: one.seconds,
        two: two.seconds,
        oneCpu: one.cpu,
        twoCpu: two.cpu,
        oneIowait: one.iowait,
        twoIowait: two.iowait,
        oneCores: one.cores,
        twoCores: two.cores,
      },
    };
  } finally {
    await Promise.all(apps.map((a) => a.kill()));
    await consumer.disconnect();
    await producer.disconnect();
    await dl.close();
    // About 12 GiB per run: S3Proxy keeps objects on the local disk.
    await removeBucket(bucket);
  }
}

export function uploadMarkdown(r: UploadBenchResult): string {
  const mibs = (bytes: number, s: number) => bytes / MiB / s;
  const rows = [
    `One ${fmt(r.big.bytes / MiB)} MiB file from zoom-sim to S3Proxy, parts of ${PART}, ${QUEUE} in flight for both ` +
      `(ours: the default \`S3_UPLOAD_MODE=stream\`, each part streamed into its request; rclone buffers ` +
      `its parts); peak RSS = the process's VmHWM; ${r.big.rounds} rounds in rotating order, medians; ` +
      'spread = (slowest - fastest) / median. Load average (1 min) before the runs: ' +
      `${r.big.loadBefore.map((l) => l.toFixed(1)).join(', ')} on ${os.cpus().length} cores.`,
    '',
    '| uploader | median seconds (each round) | spread | MiB/s | median peak RSS MiB | ' +
      'throughput vs rclone (median; per round) | RSS vs rclone |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  const ourRows: Array<[string, Run, Run[]]> = [
    [
      'zoom-pipeline uploader, defaults (`S3_SHA256=sidecar`): download + sha256 + streamed ' +
        'multipart, then the `<key>.sha256` sidecar (one small PUT)',
      r.big.ours,
      r.big.runs.ours,
    ],
    [
      'zoom-pipeline uploader, `S3_SHA256=none`: the same without the sidecar (the same work as rclone)',
      r.big.oursNoCopy,
      r.big.runs.oursNoCopy,
    ],
    [
      'zoom-pipeline uploader, `S3_SHA256=metadata` (the default before): a server-side ' +
        'copy that rewrites the object to add sha256 to its metadata',
      r.big.oursCopy,
      r.big.runs.oursCopy,
    ],
    ['rclone copyurl of the pre-signed URL (baseline)', r.big.rclone, r.big.runs.rclone],
  ];
  const rc = r.big.rclone;
  for (const [label, o, all] of ourRows) {
    const each = all.map((x) => fmt(x.seconds, 1)).join(' / ');
    const secs = all.map((x) => x.seconds);
    const spread = (Math.max(...secs) - Math.min(...secs)) / o.seconds;
    // Same round = similar machine load: the ratio against that round's rclone run.
    const perRound = all
      .map((x, i) => (r.big.runs.rclone[i] ? (r.big.runs.rclone[i].seconds / x.seconds).toFixed(2) : '?'))
      .join(' / ');
    rows.push(
      `| ${label} | ${fmt(o.seconds, 1)} (${each}) | ${(100 * spread).toFixed(0)}% | ` +
        `${fmt(mibs(r.big.bytes, o.seconds), 1)} | ${fmt(o.peakMiB)} | ` +
        `${(rc.seconds / o.seconds).toFixed(2)}x (${perRound}) | ${(o.peakMiB / rc.peakMiB).toFixed(2)}x |`,
    );
  }
  rows.push(
    '',
    `Scaling: ${r.scaling.files} files of ${fmt(r.scaling.bytes / r.scaling.files / MiB)} MiB, ` +
      'UPLOAD_CONCURRENCY=1 per process (one transfer in flight per process).',
    '',
    '| processes | seconds | MiB/s | speed-up | machine CPU busy (2 cores, whole run) | CPU ' +
      'waiting on disk | cores used: zoom-sim / S3Proxy / uploaders |',
    '|---:|---:|---:|---:|---:|---:|---|',
  );
  const cores = (c: { sim: number; s3: number; uploaders: number }) =>
    `${c.sim.toFixed(2)} / ${c.s3.toFixed(2)} / ${c.uploaders.toFixed(2)}`;
  rows.push(
    `| 1 | ${fmt(r.scaling.one, 1)} | ${fmt(mibs(r.scaling.bytes, r.scaling.one), 1)} | 1.00x | ` +
      `${(100 * r.scaling.oneCpu).toFixed(0)}% | ${(100 * r.scaling.oneIowait).toFixed(0)}% | ` +
      `${cores(r.scaling.oneCores)} |`,
  );
  rows.push(
    `| 2 | ${fmt(r.scaling.two, 1)} | ${fmt(mibs(r.scaling.bytes, r.scaling.two), 1)} | ` +
      `${(r.scaling.one / r.scaling.two).toFixed(2)}x | ${(100 * r.scaling.twoCpu).toFixed(0)}% | ` +
      `${(100 * r.scaling.twoIowait).toFixed(0)}% | ${cores(r.scaling.twoCores)} |`,
  );
  return rows.join('\n');
}

if (require.main === module) {
  runUpload()
    .then((r) => {
      // Alone, too, it rewrites its own section of BENCHMARKS.md (run-all.ts does the same for every benchmark).
      writeSection('upload', uploadMarkdown(r));
      process.stdout.write(`${uploadMarkdown(r)}\n`);
      process.exit(0);
    })
    .catch((err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    });
}
