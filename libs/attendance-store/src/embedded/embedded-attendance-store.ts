import { createReadStream } from 'node:fs';
import { type FileHandle, mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { AttendanceMeetingSummary, AttendanceSession } from '@zoom-pipeline/contracts';
import { GroupCommitter, writeFully } from '@zoom-pipeline/file-journal';
import type { Registration } from '../attendance-store.port';
import { MemoryAttendanceStore } from '../memory/memory-attendance-store';

type Entry =
  | { k: 'reg'; r: Registration }
  | { k: 'link'; z: string; a: string | null }
  | { k: 'sessions'; s: AttendanceSession[] }
  | { k: 'summaries'; p: AttendanceMeetingSummary[] };

/**
 * Standalone adapter: the memory maps, made durable by an append-only JSON-lines log (`attendance.log` under
 * `dir`), fsynced before a write resolves and replayed on open. Every entry is an idempotent upsert, so a torn
 * last line (a crash mid-append) is skipped and the write it belonged to was never acknowledged. Concurrent
 * writes share one write + fsync (group commit) and are applied in order once durable.
 */
export class EmbeddedAttendanceStore extends MemoryAttendanceStore {
  private readonly committer: GroupCommitter<Entry>;

  private constructor(private readonly file: FileHandle) {
    super();
    this.committer = new GroupCommitter<Entry>({
      // Each line starts with a newline too, so a line appended after a torn one starts on a line of its own.
      commit: async (group) => {
        await writeFully(this.file, Buffer.from(group.map((e) => '\n' + JSON.stringify(e) + '\n').join(''), 'utf8'));
        await this.file.sync();
      },
      committed: (e) => this.replay(e),
      onFailure: 'group',
    });
  }

  static async open(options: { dir: string }): Promise<EmbeddedAttendanceStore> {
    await mkdir(options.dir, { recursive: true });
    const path = join(options.dir, 'attendance.log');
    const file = await open(path, 'a+');
    const store = new EmbeddedAttendanceStore(file);
    const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
    for await (const line of lines) {
      if (line.trim() === '') continue;
      let e: Entry;
      try {
        e = JSON.parse(line) as Entry;
      } catch {
        continue; // torn tail
      }
      store.replay(e);
    }
    return store;
  }

  private replay(e: Entry): void {
    if (e.k === 'reg') this.applyRegistration(e.r);
    else if (e.k === 'link') this.applyLink(e.z, e.a);
    else if (e.k === 'sessions') this.applySessions(e.s);
    else this.applySummaries(e.p);
  }

  private append(e: Entry): Promise<void> {
    return this.committer.submit(e);
  }

  override putRegistration(r: Registration): Promise<void> {
    return this.append({ k: 'reg', r });
  }
  override putLink(zoomUserId: string, appUserId: string | null): Promise<void> {
    return this.append({ k: 'link', z: zoomUserId, a: appUserId });
  }
  override async saveSessions(sessions: readonly AttendanceSession[]): Promise<void> {
    if (sessions.length > 0) await this.append({ k: 'sessions', s: [...sessions] });
  }
  override async saveSummaries(parts: readonly AttendanceMeetingSummary[]): Promise<void> {
    if (parts.length > 0) await this.append({ k: 'summaries', p: [...parts] });
  }
  override async close(): Promise<void> {
    await this.committer.idle();
    await this.file.close();
  }
}
