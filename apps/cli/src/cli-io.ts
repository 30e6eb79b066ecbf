/** Where the CLI writes: injected so that commands are testable without the real process streams. */
export interface CliIo {
  /** One line of the command's result (stdout). */
  out(line: string): void;
  /** One line of diagnostics: errors, usage (stderr). */
  err(line: string): void;
  /**
   * Transient progress ("sent 7/20"), overwritten in place and cleared by `undefined`. Shown only on an
   * interactive stderr, so piped or captured output stays line-oriented and parseable.
   */
  progress(text: string | undefined): void;
}

/** The process's streams; progress only when stderr is a TTY. */
export function processIo(): CliIo {
  const tty = process.stderr.isTTY === true;
  let shown = false;
  const clear = (): void => {
    if (shown) process.stderr.write('\r\x1b[2K');
    shown = false;
  };
  return {
    out: (line) => {
      clear();
      process.stdout.write(`${line}\n`);
    },
    err: (line) => {
      clear();
      process.stderr.write(`${line}\n`);
    },
    progress: (text) => {
      if (!tty) return;
      if (text === undefined) return clear();
      process.stderr.write(`\r\x1b[2K${text}`);
      shown = true;
    },
  };
}

/**
 * Reports at most every `intervalMs`, plus the final step (`force`), so a loop over thousands of items does
 * not spend its time repainting the terminal.
 */
export function throttledProgress(io: CliIo, intervalMs = 100): (text: string, force?: boolean) => void {
  let last = 0;
  return (text, force = false) => {
    const now = Date.now();
    if (!force && now - last < intervalMs) return;
    last = now;
    io.progress(text);
  };
}
