// Builds and starts the Go peer of the ingress benchmark (bench/peers/go: net/http + franz-go). The binary goes to
// ~/.cache/zoom-pipeline/bench-peers (never into the repo), named by a hash of the sources, so a fresh machine
// builds it once, unattended, on the first bench run (the Go module proxy brings franz-go; go.sum pins it).
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type ChildServer, REPO_ROOT } from './bench-util';

const SOURCES = ['main.go', 'go.mod', 'go.sum'];

export function goPeerSourceDir(): string {
  return path.join(REPO_ROOT, 'bench', 'peers', 'go');
}

/** Path of the built peer, building it first when missing. Throws with go's output when `go` is absent or fails. */
export function buildGoPeer(): string {
  const dir = goPeerSourceDir();
  const hash = createHash('sha256');
  for (const f of SOURCES) hash.update(fs.readFileSync(path.join(dir, f)));
  const outDir = path.join(
    process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'),
    'zoom-pipeline',
    'bench-peers',
  );
  const bin = path.join(outDir, `go-peer-${hash.digest('hex').slice(0, 16)}`);
  if (fs.existsSync(bin)) return bin;
  fs.mkdirSync(outDir, { recursive: true });
  process.stderr.write(
    `building the Go peer into ${bin} (first run on this machine: downloads franz-go through the Go module proxy)\n`,
  );
  // -mod=readonly: go.sum pins every module; GOTOOLCHAIN=local: build with the installed Go, never download one.
  const r = spawnSync('go', ['build', '-mod=readonly', '-trimpath', '-buildvcs=false', '-o', `${bin}.tmp`, '.'], {
    cwd: dir,
    env: { ...process.env, GOTOOLCHAIN: 'local', CGO_ENABLED: '0' },
    encoding: 'utf8',
    timeout: 600_000,
  });
  if (r.error || r.status !== 0)
    throw new Error(`go build of the Go peer failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stderr}`);
  fs.renameSync(`${bin}.tmp`, bin);
  return bin;
}

/** Starts the peer on a free port; it prints `listening <port>` once its Kafka client answered a ping. */
export async function startGoPeer(env: {
  KAFKA_BROKERS: string;
  ZOOM_WEBHOOK_SECRET_TOKEN: string;
  PEER_TOPIC: string;
}): Promise<ChildServer> {
  const bin = buildGoPeer();
  // One OS thread per core by default, like the Node servers' one main thread plus helpers: no GOMAXPROCS cap.
  const child = spawn(bin, [], {
    env: { PATH: process.env.PATH ?? '', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`go peer did not start: ${out}`)), 30_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => reject(new Error(`go peer exited ${code}: ${out}`)));
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
