/** A mistake on the command line: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  readonly code = 'usage';

  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * node:util parseArgs errors, reworded: its messages carry advice about `--` that confuses more than it helps
 * for a flag typo. Anything else is passed through unchanged.
 */
export function asUsageError(err: unknown): unknown {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (typeof e?.code !== 'string' || !e.code.startsWith('ERR_PARSE_ARGS_') || typeof e.message !== 'string') return err;
  const quoted = /'([^']+)'/.exec(e.message)?.[1];
  const option = /--?[A-Za-z][\w-]*/.exec(quoted ?? '')?.[0] ?? quoted;
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return new UsageError(`unknown option ${option ?? e.message}`);
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return new UsageError(`unexpected argument ${quoted ?? e.message}`);
    default:
      if (option !== undefined && /argument missing|ambiguous/.test(e.message))
        return new UsageError(`${option} needs a value`);
      if (option !== undefined && /does not take an argument/.test(e.message))
        return new UsageError(`${option} takes no value`);
      return new UsageError(e.message.split('\n')[0]!.replace(/\.$/, ''));
  }
}
