import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

/**
 * Fixture lookup: the in-repo copy (test/zoom-sim/fixtures, described in docs/ZOOM-FACTS.md §9); ZOOM_FIXTURES_DIR
 * comes first, for trying a new capture without touching the repo.
 */

/** The nearest ancestor of `from` holding nx.json (works from src/ under ts and from dist/ after a build). */
export function findRepoRoot(from: string = __dirname): string {
  let dir = path.resolve(from);
  for (;;) {
    if (existsSync(path.join(dir, 'nx.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  // Last resort for odd layouts (a bundled copy): the working directory usually is the repo root.
  return process.cwd();
}

/** Directories searched for `<name>.json`, first match wins. */
export function fixtureDirs(): string[] {
  const root = findRepoRoot();
  const dirs: string[] = [];
  const fromEnv = process.env.ZOOM_FIXTURES_DIR;
  if (fromEnv !== undefined && fromEnv !== '') dirs.push(path.resolve(fromEnv));
  dirs.push(path.join(root, 'test', 'zoom-sim', 'fixtures'));
  return dirs;
}

/** The first fixture directory that exists. */
export function fixturesDir(): string {
  const dirs = fixtureDirs();
  const found = dirs.find((d) => existsSync(d));
  if (found === undefined) throw new Error(`zoom-sim: no fixture directory found (looked in ${dirs.join(', ')})`);
  return found;
}

/** Names (file name without `.json`) of the fixtures available. */
export function fixtureNames(): string[] {
  return readdirSync(fixturesDir())
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

const textCache = new Map<string, string>();

/** The fixture file's text exactly as stored (pretty-printed). */
export function fixtureText(name: string): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new Error(`zoom-sim: invalid fixture name ${JSON.stringify(name)}`);
  for (const dir of fixtureDirs()) {
    const file = path.join(dir, `${name}.json`);
    const cached = textCache.get(file);
    if (cached !== undefined) return cached;
    if (existsSync(file)) {
      const text = readFileSync(file, 'utf8');
      textCache.set(file, text);
      return text;
    }
  }
  throw new Error(`zoom-sim: fixture ${name} not found in ${fixtureDirs().join(', ')}`);
}

/** A fresh parsed copy of a fixture (callers may mutate it). Key order is the file's, which is Zoom's. */
export function loadFixture(name: string): Record<string, unknown> {
  const parsed: unknown = JSON.parse(fixtureText(name));
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error(`zoom-sim: fixture ${name} is not a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

/**
 * The bytes Zoom would put on the wire: compact JSON, UTF-8. Zoom's bodies re-serialise byte-identically
 * (docs/ZOOM-FACTS.md §1), so JSON.stringify of the parsed object is exactly what it sends.
 */
export function zoomBody(payload: object | string | Buffer): Buffer {
  if (Buffer.isBuffer(payload)) return payload;
  if (typeof payload === 'string') return Buffer.from(payload, 'utf8');
  return Buffer.from(JSON.stringify(payload), 'utf8');
}
