import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

/** The directory holding nx.json, from the sources (test/support) or the build output (dist/test/support). */
export const REPO_ROOT = ((): string => {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'nx.json'))) return dir;
  }
  return path.resolve(__dirname, '../..');
})();

export type AppName = 'ingress' | 'dedup' | 'uploader' | 'standalone';
/**
 * Apps `startApp` can run; the RTMS connector and the reconciler are kept out of AppName, which specs use to configure
 * every pipeline app.
 */
export type StartableApp = AppName | 'rtms' | 'reconciler';
/** The same, under the name the reconcile specs use. */
export type AnyAppName = StartableApp;

export interface AppProcess {
  name: StartableApp;
  url: string;
  port: number;
  child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far (JSON log lines). */
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Test-only fault modules (test/support/faults) a test can load into an app with `startApp(..., { preload })`. */
export const FAULTS = {
  /** The dedup app SIGKILLs itself after its first claim, before emitting (dedup-crash-after-claim.ts). */
  dedupCrashAfterClaim: 'faults/dedup-crash-after-claim.js',
} as const;

export interface StartAppOptions {
  waitFor?: 'healthz' | 'readyz' | 'nothing';
  timeoutMs?: number;
  /** FAULTS entries loaded with `node --require` before the app: faults live in tests, not in the apps' config. */
  preload?: Array<(typeof FAULTS)[keyof typeof FAULTS]>;
}

/**
 * Starts an app from the build output (`npm run build`), as users run it, and waits for /healthz.
 * e2e tests use real processes so SIGKILL, SIGTERM and restarts are real.
 */
export async function startApp(
  name: StartableApp,
  env: Record<string, string>,
  options: StartAppOptions = {},
): Promise<AppProcess> {
  const main = path.join(REPO_ROOT, 'dist/apps', name, 'src/main.js');
  if (!fs.existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first`);
  const preload = (options.preload ?? []).flatMap((f) => ['--require', path.join(REPO_ROOT, 'dist/test/support', f)]);
  const port = env.PORT ? Number(env.PORT) : await freePort();
  let out = '';
  const child = spawn(process.execPath, [...preload, main], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      ...env,
      PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const app: AppProcess = {
    name,
    url,
    port,
    child,
    output: () => out,
    exited,
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  const probe = options.waitFor ?? 'healthz';
  if (probe === 'nothing') return app;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before it was up:\n${out.slice(-4000)}`);
    try {
      const res = await fetch(`${url}/${probe}`);
      if (res.ok) return app;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      await app.kill('SIGKILL');
      throw new Error(
        `${name} did not answer /${probe} within ${options.timeoutMs ?? 30_000} ms:\n${out.slice(-4000)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`,
      );
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
