/**
 * The standalone mode's event bus: the embedded log (see ../log) made durable by a journal under `dir` (see
 * libs/file-journal, journal.ts, for the file format, torn-tail recovery and why one frame per batch makes
 * outputs + commit atomic).
 *
 * Guarantees (SPEC §2, §3): publish resolves only after fdatasync (group commit: concurrent publishes share
 * one write + fsync); per-key order (one partition per key by Kafka's murmur2, one in-flight batch per
 * partition); committed offsets are journal entries, so after a crash consumers resume from the last commit
 * and only uncommitted messages are redelivered.
 *
 * Memory: the whole log is indexed in memory with its values (replayed on open). Fine at the standalone scale
 * (webhook bodies of a few KiB; recordings themselves never enter the log); there is no retention yet.
 */
import { type EventBusLogger, consoleEventBusLogger } from '../event-bus.logger';
import { LogEventBus, type LogEventBusOptions } from '../log/log-event-bus';
import { LogState } from '../log/log-state';
import { decodeEntries, encodeEntries } from './journal-codec';
import { encodeFrame, Journal, type JournalStats } from '@zoom-pipeline/file-journal';

export interface FileLogEventBusOptions extends LogEventBusOptions {
  /** Directory holding the journal segments (created if missing); one process at a time (LOCK file). */
  dir: string;
  /** Roll to a new segment file once the current one reaches this size. Default 64 MiB. */
  segmentBytes?: number;
}

export class FileLogEventBus extends LogEventBus {
  private constructor(
    state: LogState,
    private readonly fileJournal: Journal,
    options: LogEventBusOptions,
  ) {
    super(state, fileJournal, (entries) => encodeFrame(encodeEntries(entries)), options);
  }

  /** Opens the log: replays the journal (truncating a torn tail) and returns a bus over it. */
  static async open(options: FileLogEventBusOptions): Promise<FileLogEventBus> {
    const logger: EventBusLogger = options.logger ?? consoleEventBusLogger();
    const state = new LogState();
    const journal = await Journal.open({ dir: options.dir, segmentBytes: options.segmentBytes, logger }, (payload) =>
      state.apply(decodeEntries(payload)),
    );
    return new FileLogEventBus(state, journal, { ...options, logger });
  }

  /** Group-commit counters: `syncs` far below `frames` means concurrent publishes shared fsyncs. */
  stats(): Readonly<JournalStats> {
    return { ...this.fileJournal.stats };
  }
}
