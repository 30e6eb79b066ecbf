import { type FileHandle, mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClaimRequest, ClaimResult, DedupStore, FencedLease, TokenRecord } from '../dedup-store.port';
import { DedupStoreUnavailableError } from '../dedup-store.port';
import { DedupState, type StateChange } from '../state/dedup-state';
import { assertClaimRequests, assertFencedLease, assertName, assertTokenOffer, assertTtl } from '../state/validate';
import { fsyncDirectory, GroupCommitter, writeFully } from '@zoom-pipeline/file-journal';
import { encodeRecord, type LogRecord, replayLog, rewriteLog } from './dedup-log';

export interface EmbeddedDedupStoreOptions {
  /** Directory owned by this store (one process at a time). Created if missing. */
  dir: string;
  /** Clock for expiry (epoch ms); default `Date.now`. */
  now?: () => number;
  /**
   * Compact the log (on open, and while running) once it holds at least this many records and more than
   * half of them are expired or superseded. Default 10 000.
   */
  compactMinRecords?: number;
}

/** What opening the store found on disk; for diagnostics and tests. */
export interface EmbeddedDedupStoreOpenStats {
  records: number;
  live: number;
  corrupt: number;
  tornTailBytes: number;
  compacted: boolean;
}

export const EMBEDDED_LOG_FILE = 'dedup-store.log';

interface PendingWrite {
  lines: string[];
  changes: StateChange[];
}

/**
 * Dedup store for standalone mode that survives restarts (SPEC §2, invariant 3).
 *
 * Claims and tokens live in memory (`DedupState`, decided synchronously, hence atomic for concurrent
 * callers) and every change is appended to a log that is fsynced before the call resolves: a claim that
 * was reported is on disk. Concurrent calls share one write + fsync (group commit), which is what keeps a
 * burst of deliveries from paying one disk flush each. On open the log is replayed (expired entries are
 * skipped), a torn last line is cut off, and a mostly-dead log is compacted. Leases stay in memory: one
 * process holds them and a restart drops them, which only lets the file be retried sooner. Fencing tokens are
 * not logged either: they start at the open time in epoch ms and grow by one per new holder, so a restarted
 * store hands out greater tokens than the one before it, unless one lease name changed hands more often than
 * once per millisecond of the previous process's life.
 */
export class EmbeddedDedupStore implements DedupStore {
  /** Opens (replays) the store; `createDedupStore` uses this so a bad directory fails at start-up. */
  static async open(options: EmbeddedDedupStoreOptions): Promise<EmbeddedDedupStore> {
    const store = new EmbeddedDedupStore(options);
    await store.ready();
    return store;
  }

  readonly path: string;
  private readonly dir: string;
  private readonly now: () => number;
  private readonly compactMinRecords: number;
  private readonly state: DedupState;
  private opening: Promise<void> | undefined;
  private handle: FileHandle | undefined;
  /** Bytes known to be complete records; a failed append is cut back to this. */
  private fileBytes = 0;
  private fileRecords = 0;
  private nextCompactionCheck: number;
  private readonly committer: GroupCommitter<PendingWrite>;
  /** Set when the log can no longer be trusted (a failed append could not be cut back). */
  private broken: Error | undefined;
  private closing: Promise<void> | undefined;
  private stats: EmbeddedDedupStoreOpenStats | undefined;

  constructor(options: EmbeddedDedupStoreOptions) {
    assertName(options.dir, 'dir');
    this.dir = options.dir;
    this.path = join(options.dir, EMBEDDED_LOG_FILE);
    this.now = options.now ?? Date.now;
    this.compactMinRecords = options.compactMinRecords ?? 10_000;
    this.nextCompactionCheck = this.compactMinRecords;
    this.state = new DedupState(this.now, this.now());
    this.committer = new GroupCommitter<PendingWrite>({
      commit: (group) => this.commit(group),
      // Everything queued behind a failed write was decided on top of its changes: take all of them back
      // (newest first) and fail all of them, so no caller acts on a claim that is not on disk.
      onFailure: 'queue',
      failed: (entries, err) => {
        for (const entry of [...entries].reverse()) {
          for (const change of [...entry.changes].reverse()) {
            this.state.revert(change);
          }
        }
        return new DedupStoreUnavailableError(`embedded dedup store could not persist: ${reason(err)}`);
      },
      // Compaction runs between commits, so no append can interleave with the rewrite.
      afterCommit: () => this.maybeCompact(),
    });
  }

  /** Replays the log once; concurrent callers share it, a failed open is retried by the next call. */
  ready(): Promise<void> {
    this.opening ??= this.openLog().catch((err: unknown) => {
      this.opening = undefined;
      throw new DedupStoreUnavailableError(`embedded dedup store cannot open ${this.path}: ${reason(err)}`);
    });
    return this.opening;
  }

  get openStats(): EmbeddedDedupStoreOpenStats | undefined {
    return this.stats;
  }

  async claimMany(requests: ClaimRequest[]): Promise<ClaimResult[]> {
    assertClaimRequests(requests);
    await this.usable();
    const results: ClaimResult[] = [];
    const lines: string[] = [];
    const changes: StateChange[] = [];
    // All decisions happen synchronously here, before the first await: no other call can interleave.
    for (const request of requests) {
      const { result, change } = this.state.claim(request);
      results.push(result);
      if (change?.kind === 'claim') {
        changes.push(change);
        lines.push(encodeRecord({ kind: 'claim', key: change.key, entry: change.next }));
      }
    }
    await this.persist(lines, changes);
    return results;
  }

  async peekClaims(keys: string[]): Promise<Array<string | null>> {
    keys.forEach((k, i) => assertName(k, `keys[${i}]`));
    await this.usable();
    return keys.map((k) => this.state.claimOwner(k));
  }

  async offerToken(key: string, record: TokenRecord, ttlMs: number): Promise<void> {
    assertTokenOffer(key, record, ttlMs);
    await this.usable();
    const change = this.state.offerToken(key, record, ttlMs);
    if (change?.kind === 'token') {
      await this.persist([encodeRecord({ kind: 'token', key, entry: change.next })], [change]);
    } else {
      await this.persist([], []);
    }
  }

  async getToken(key: string): Promise<TokenRecord | null> {
    assertName(key, 'key');
    await this.usable();
    return this.state.getToken(key);
  }

  async acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    assertName(name, 'name');
    assertName(owner, 'owner');
    assertTtl(ttlMs);
    await this.usable();
    return this.state.acquireLease(name, owner, ttlMs);
  }

  async renewLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    assertName(name, 'name');
    assertName(owner, 'owner');
    assertTtl(ttlMs);
    await this.usable();
    return this.state.renewLease(name, owner, ttlMs);
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    assertName(name, 'name');
    assertName(owner, 'owner');
    await this.usable();
    this.state.releaseLease(name, owner);
  }

  async acquireFencedLease(name: string, owner: string, ttlMs: number): Promise<FencedLease | null> {
    assertName(name, 'name');
    assertName(owner, 'owner');
    assertTtl(ttlMs);
    await this.usable();
    return this.state.acquireFencedLease(name, owner, ttlMs);
  }

  async renewFencedLease(lease: FencedLease, ttlMs: number): Promise<boolean> {
    assertFencedLease(lease);
    assertTtl(ttlMs);
    await this.usable();
    return this.state.renewFencedLease(lease, ttlMs);
  }

  async releaseFencedLease(lease: FencedLease): Promise<void> {
    assertFencedLease(lease);
    await this.usable();
    this.state.releaseFencedLease(lease);
  }

  async isReady(): Promise<boolean> {
    if (this.closing || this.broken) {
      return false;
    }
    try {
      await this.ready();
      return true;
    } catch {
      return false;
    }
  }

  /** Waits for pending writes (their callers get their answers), then closes the file. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.opening?.catch(() => undefined);
      // A call that passed its open check just before close() may still start a commit.
      await this.committer.idle();
      await this.handle?.close().catch(() => undefined);
      this.handle = undefined;
    })();
    return this.closing;
  }

  private async usable(): Promise<void> {
    if (this.closing) {
      throw new DedupStoreUnavailableError('embedded dedup store is closed');
    }
    await this.ready();
    if (this.broken) {
      throw new DedupStoreUnavailableError(`embedded dedup store log is unusable: ${reason(this.broken)}`);
    }
  }

  /**
   * Resolves once `lines` and everything decided before them are fsynced. A call that wrote nothing
   * (a duplicate, an older token) still waits for pending writes: its answer may rest on a claim that
   * another caller made a moment ago, and that claim must be durable before anyone acts on it.
   */
  private persist(lines: string[], changes: StateChange[]): Promise<void> {
    if (lines.length === 0 && !this.committer.busy) {
      return Promise.resolve();
    }
    return this.committer.submit({ lines, changes });
  }

  /** One group: one write and one fsync for all its lines. */
  private async commit(group: readonly PendingWrite[]): Promise<void> {
    const lines = group.flatMap((entry) => entry.lines);
    if (lines.length > 0) {
      await this.append(Buffer.from(lines.join(''), 'utf8'));
      this.fileRecords += lines.length;
    }
  }

  private async append(data: Buffer): Promise<void> {
    const handle = this.handle;
    if (!handle) {
      throw new Error('log file is not open');
    }
    try {
      await writeFully(handle, data);
      // fdatasync: the appended bytes and the new file length reach the disk before anyone is answered.
      await handle.datasync();
      this.fileBytes += data.length;
    } catch (err) {
      // A partial line would glue itself to the next record and corrupt it: cut the file back.
      try {
        await handle.truncate(this.fileBytes);
      } catch {
        this.broken = err instanceof Error ? err : new Error(String(err));
      }
      throw err;
    }
  }

  private async openLog(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const replay = await replayLog(this.path, (record: LogRecord) => {
      if (record.kind === 'claim') {
        this.state.restore('claim', record.key, record.entry);
      } else {
        this.state.restore('token', record.key, record.entry);
      }
    });
    const live = this.state.size;
    let compacted = false;
    let handle: FileHandle;
    if (replay.records >= this.compactMinRecords && live * 2 < replay.records) {
      // Mostly expired or superseded: rewrite before appending (also drops a torn tail and corrupt lines).
      const written = await this.writeSnapshot();
      await fsyncDirectory(this.dir);
      handle = await open(this.path, 'a', 0o600);
      this.fileBytes = written.bytes;
      this.fileRecords = written.records;
      compacted = true;
    } else {
      const existed = replay.goodBytes + replay.tornTailBytes > 0;
      handle = await open(this.path, 'a', 0o600);
      if (replay.tornTailBytes > 0) {
        // Cut the torn line off, or the next append would continue it and both records would be lost.
        await handle.truncate(replay.goodBytes);
        await handle.sync();
      }
      if (!existed) {
        // A new file's directory entry must be durable too, or the whole log can vanish on a crash.
        await fsyncDirectory(this.dir);
      }
      this.fileBytes = replay.goodBytes;
      this.fileRecords = replay.records;
    }
    this.handle = handle;
    this.nextCompactionCheck = Math.max(this.compactMinRecords, this.fileRecords * 2);
    this.stats = {
      records: replay.records,
      live,
      corrupt: replay.corrupt,
      tornTailBytes: replay.tornTailBytes,
      compacted,
    };
  }

  /** Runtime compaction, run inside the write loop so no append can interleave with the rewrite. */
  private async maybeCompact(): Promise<void> {
    if (this.fileRecords < this.nextCompactionCheck || this.broken) {
      return;
    }
    const live = this.state.sweep();
    if ((live.claims.size + live.tokens.size) * 2 < this.fileRecords) {
      let renamed = false;
      try {
        const written = await this.writeSnapshot();
        renamed = true;
        await fsyncDirectory(this.dir);
        const previous = this.handle;
        this.handle = await open(this.path, 'a', 0o600);
        await previous?.close().catch(() => undefined);
        this.fileBytes = written.bytes;
        this.fileRecords = written.records;
      } catch (err) {
        // Before the rename the old log is intact and still open: keep appending to it. After it, the open
        // handle points at an unlinked file and appends would be lost: stop accepting writes.
        if (renamed) {
          this.broken = err instanceof Error ? err : new Error(String(err));
        }
      }
    }
    this.nextCompactionCheck = Math.max(this.compactMinRecords, this.fileRecords * 2);
  }

  private writeSnapshot(): Promise<{ bytes: number; records: number }> {
    const { claims, tokens } = this.state.sweep();
    function* lines(): Generator<string> {
      for (const [key, entry] of claims) {
        yield encodeRecord({ kind: 'claim', key, entry });
      }
      for (const [key, entry] of tokens) {
        yield encodeRecord({ kind: 'token', key, entry });
      }
    }
    return rewriteLog(this.path, lines());
  }
}

/** Error text without paths' contents or values: the errno code when there is one. */
function reason(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code ? `${code} (${err.message})` : err.message;
  }
  return String(err);
}
