import { type CliIo } from './cli-io';
import { UsageError } from './usage-error';

/** What a command may touch; tests pass their own (captured output, env, a fake stdin). */
export interface CommandContext {
  io: CliIo;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** The checkout (where package.json is), for the zoom-sim fixtures; undefined outside one. */
  repoRoot: string | undefined;
  readStdin: () => Promise<string>;
  fetchImpl?: typeof fetch;
}

/** Where `npm start` listens when run on this machine: loopback, $PORT or 8080. */
export function defaultBaseUrl(env: NodeJS.ProcessEnv): string {
  const port = env.PORT !== undefined && /^\d+$/.test(env.PORT.trim()) ? env.PORT.trim() : '8080';
  return `http://127.0.0.1:${port}`;
}

export function positiveInt(
  value: string | undefined,
  name: string,
  fallback: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1 || n > max) {
    throw new UsageError(`--${name} must be an integer from 1 to ${max}, got ${JSON.stringify(value)}`);
  }
  return n;
}
