import { runCli } from './cli';
import { processIo } from './cli-io';
import { findRepoRoot } from './repo-root';

/*
 * Entry of the `zoom-pipeline` command (bin/zoom-pipeline.js requires this file after `npm run build`).
 * It loads no Nest, Kafka or telemetry code: the CLI talks to a running service over HTTP only.
 */

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin)
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** Runs the CLI on `argv` (without node and the script) and sets the process exit code. */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<number> {
  const io = processIo();
  let code: number;
  try {
    code = await runCli(argv, {
      io,
      env: process.env,
      cwd: process.cwd(),
      repoRoot: findRepoRoot(__dirname),
      readStdin,
    });
  } catch (err) {
    io.err(`zoom-pipeline: ${err instanceof Error ? err.message : String(err)}`);
    code = 1;
  }
  process.exitCode = code;
  return code;
}

if (require.main === module) void main();
