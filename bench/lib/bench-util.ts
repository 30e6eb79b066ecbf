// Shared helpers of the benchmarks: child servers, autocannon runs, machine description, BENCHMARKS.md markers.
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { endpointsFile } from '@zoom-pipeline/test-support';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require('autocannon') as (opts: Record<string, unknown>) => Promise<AutocannonResult>;

export const REPO_ROOT = path.resolve(__dirname, '../../..');

export interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number; max: number };
  '2xx': number;
  non2xx: number;
  errors: number;
  timeouts: number;
  duration: number;
}

export interface LoadResult {
  /** CPU seconds used by the server process (its pid given) during the measured run; NaN when unknown. */
  serverCpuS?: number;
  /** CPU seconds used by the Kafka broker (its pid given) during the measured run; NaN when unknown. */
  brokerCpuS?: number;
  /** CPU seconds used by this process (the load generator) during the measured run. */
  generatorCpuS?: number;
  /** Length of the measured run, s. */
  durationS?: number;
  rps: number;
  p50: number;
  p99: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

export interface BenchRequest {
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** Runs autocannon against `url`, rotating through `pool`, after a warm-up run that is discarded. */
export async function load(
  url: string,
  pool: BenchRequest[],
  opts: {
    connections: number;
    durationS: number;
    warmupS: number;
    overallRate?: number;
    serverPid?: number;
    brokerPid?: number;
  },
): Promise<LoadResult> {
  let i = 0;
  const requests = [
    {
      method: 'POST',
      setupRequest: (req: Record<string, unknown>) => {
        const r = pool[i++ % pool.length];
        return { ...req, method: 'POST', path: r.path, headers: r.headers, body: r.body };
      },
    },
  ];
  if (opts.warmupS > 0)
    await autocannon({
      url,
      connections: opts.connections,
      duration: opts.warmupS,
      requests,
      overallRate: opts.overallRate,
    });
  const serverBefore = processCpuSeconds(opts.serverPid);
  const brokerBefore = processCpuSeconds(opts.brokerPid);
  const generatorBefore = process.cpuUsage();
  const res = await autocannon({
    url,
    connections: opts.connections,
    duration: opts.durationS,
    requests,
    overallRate: opts.overallRate,
  });
  const generator = process.cpuUsage(generatorBefore);
  return {
    serverCpuS: processCpuSeconds(opts.serverPid) - serverBefore,
    brokerCpuS: processCpuSeconds(opts.brokerPid) - brokerBefore,
    generatorCpuS: (generator.user + generator.system) / 1e6,
    durationS: res.duration,
    // 2xx per second: a non-2xx answer (503 from the ingress) is not a delivery.
    rps: res['2xx'] / res.duration,
    p50: res.latency.p50,
    p99: res.latency.p99,
    ok: res['2xx'],
    non2xx: res.non2xx,
    errors: res.errors,
    timeouts: res.timeouts,
  };
}

/**
 * User + system CPU seconds a process has used so far (Linux /proc/<pid>/stat, clock ticks of 1/100 s);
 * NaN without a pid or off Linux. Differences of two readings give the CPU a run cost, to report per delivery.
 */
export function processCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** The pid of the broker scripts/infra.sh started (its pid file sits next to endpoints.json); undefined otherwise. */
export function kafkaBrokerPid(): number | undefined {
  try {
    const pid = Number(fs.readFileSync(path.join(path.dirname(endpointsFile()), 'kafka', 'kafka.pid'), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export interface ChildServer {
  url: string;
  child: ChildProcess;
  kill(): Promise<void>;
}

/** Spawns a compiled bench server (dist/bench/servers/<name>.js) that prints `listening <port>` once up. */
export async function spawnServer(name: string, env: Record<string, string>): Promise<ChildServer> {
  const main = path.join(__dirname, '..', 'servers', `${name}.js`);
  // BENCH_APP_NODE_ARGS go to the app under test only, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it
  // (node refuses --cpu-prof in NODE_OPTIONS).
  const nodeArgs = (process.env.BENCH_APP_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, main], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`${name} did not start: ${out}`)), 15_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => reject(new Error(`${name} exited ${code}: ${out}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    kill: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

export function machine(): Record<string, string> {
  const cpuinfo = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  return {
    nproc: String(os.availableParallelism?.() ?? os.cpus().length),
    cpu: model.trim(),
    ram: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    node: process.version,
    loadavg: os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' / '),
  };
}

export const fmt = (n: number, digits = 0): string =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : 'n/a';
export const ratio = (a: number, b: number): string => (b > 0 ? `${((100 * a) / b).toFixed(0)}%` : 'n/a');

/** Replaces the text between `<!-- name:start -->` and `<!-- name:end -->` (appends the block when missing). */
export function writeSection(name: string, content: string, file = path.join(REPO_ROOT, 'BENCHMARKS.md')): void {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  let text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n';
  const block = `${start}\n${content.trim()}\n${end}`;
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a >= 0 && b > a) text = text.slice(0, a) + block + text.slice(b + end.length);
  else text = `${text.trimEnd()}\n\n${block}\n`;
  fs.writeFileSync(file, text);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface DistApp {
  url: string;
  child: ChildProcess;
  output(): string;
  kill(): Promise<void>;
}

/**
 * Like `startApp` of @zoom-pipeline/test-support, which resolves `dist/apps/...` from its own directory and so only
 * works from the TypeScript sources (from dist/test/support it looks for dist/dist/apps): spawns
 * dist/apps/<name>/src/main.js and waits for /readyz.
 */
export async function startDistApp(
  name: string,
  env: Record<string, string>,
  timeoutMs = 60_000,
  // Another build of the apps (BENCH_BASE_REF, lib/base-ref.ts): its root and its own node.
  target: { root: string; node: string } = { root: REPO_ROOT, node: process.execPath },
): Promise<DistApp> {
  const main = path.join(target.root, 'dist/apps', name, 'src/main.js');
  if (!fs.existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first`);
  const net = await import('node:net');
  const port = await new Promise<number>((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
  let out = '';
  // BENCH_APP_NODE_ARGS go to the app under test only, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it
  // (node refuses --cpu-prof in NODE_OPTIONS).
  const nodeArgs = (process.env.BENCH_APP_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const child = spawn(target.node, [...nodeArgs, main], {
    cwd: target.root,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      HOST: '127.0.0.1',
      ...env,
      PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const app: DistApp = {
    url: `http://127.0.0.1:${port}`,
    child,
    output: () => out,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    },
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${name} exited before it was ready:\n${out.slice(-4000)}`);
    try {
      if ((await fetch(`${app.url}/readyz`)).ok) return app;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} not ready within ${timeoutMs} ms:\n${out.slice(-4000)}`);
    }
    await sleep(100);
  }
}
