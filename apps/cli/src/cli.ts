import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ACCOUNTS_USAGE, accountsCommand } from './accounts.command';
import { type CommandContext } from './command-context';
import { BACKFILL_USAGE, REDRIVE_USAGE, backfillCommand, redriveCommand } from './reconcile.command';
import { SEND_USAGE, sendCommand } from './send.command';
import { STATUS_USAGE, statusCommand } from './status.command';
import { UsageError, asUsageError } from './usage-error';

export const USAGE = `usage: zoom-pipeline <command> [options]

commands:
  send <fixture | file | ->   sign a Zoom webhook body as Zoom does and POST it (--copies N for duplicates)
  status                      readiness, delivery/dedup/upload counters and the newest stored objects
  accounts link|show|unlink   link an app user to their Zoom user (OAuth; automatic against zoom-sim), show, unlink
  backfill --from D [--to D]  list Zoom's recordings and queue every file not stored yet (--user, --dry-run)
  redrive [--reason R]        re-queue dead-lettered files once their cause is fixed (--meeting, --dry-run)
  help [command]              this text, or a command's options

Run \`zoom-pipeline help <command>\` for the options of a command. The service is \`npm start\`
(standalone on port $PORT, default 8080).`;

interface Command {
  usage: string;
  run(args: string[], ctx: CommandContext): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  send: { usage: SEND_USAGE, run: sendCommand },
  status: { usage: STATUS_USAGE, run: statusCommand },
  accounts: { usage: ACCOUNTS_USAGE, run: accountsCommand },
  backfill: { usage: BACKFILL_USAGE, run: backfillCommand },
  redrive: { usage: REDRIVE_USAGE, run: redriveCommand },
};

/** Runs one command line and returns the exit code: 0 success, 1 the operation failed, 2 a usage error. */
export async function runCli(argv: readonly string[], ctx: CommandContext): Promise<number> {
  const [first, ...rest] = argv;
  const { io } = ctx;
  if (first === undefined) {
    io.err(USAGE);
    return 2;
  }
  if (first === '--help' || first === '-h') {
    io.out(USAGE);
    return 0;
  }
  if (first === '--version' || first === '-V') {
    io.out(version(ctx.repoRoot));
    return 0;
  }
  if (first === 'help') {
    const topic = rest[0];
    if (topic === undefined) {
      io.out(USAGE);
      return 0;
    }
    const command = COMMANDS[topic];
    if (command === undefined) return usageError(ctx, `unknown command ${JSON.stringify(topic)}`, USAGE);
    io.out(command.usage);
    return 0;
  }
  const command = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
  if (command === undefined) {
    return usageError(
      ctx,
      first.startsWith('-') ? `unknown option ${first}` : `unknown command ${JSON.stringify(first)}`,
      USAGE,
    );
  }
  try {
    return await command.run(rest, ctx);
  } catch (err) {
    const e = asUsageError(err);
    if (e instanceof UsageError) return usageError(ctx, `${first}: ${e.message}`, command.usage);
    io.err(`zoom-pipeline ${first}: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

function usageError(ctx: CommandContext, message: string, usage: string): number {
  ctx.io.err(`zoom-pipeline: ${message}`);
  ctx.io.err('');
  ctx.io.err(usage);
  return 2;
}

function version(repoRoot: string | undefined): string {
  try {
    if (repoRoot === undefined) return 'zoom-pipeline (version unknown)';
    const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version?: unknown };
    return `zoom-pipeline ${typeof pkg.version === 'string' ? pkg.version : '(version unknown)'}`;
  } catch {
    return 'zoom-pipeline (version unknown)';
  }
}
