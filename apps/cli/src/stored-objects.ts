import { type Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

/** The filesystem object store's work areas (libs/object-store): partial uploads and metadata sidecars, not objects. */
const SKIPPED_DIRS: ReadonlySet<string> = new Set(['.tmp', '.meta']);

export interface StoredObject {
  /** Object key: the path under the objects directory, with `/`. */
  key: string;
  size: number;
  mtime: string;
}

export interface StoredObjects {
  dir: string;
  /** Objects found in the whole tree. */
  total: number;
  totalBytes: number;
  /** The newest `limit`, newest first. */
  recent: StoredObject[];
}

/**
 * Walks the filesystem object store (`<DATA_DIR>/objects`) and keeps the newest `limit` objects by mtime.
 * Symbolic links are not followed, so a link cannot make the walk leave the store or loop.
 */
export async function listRecentObjects(
  dir: string,
  limit = 10,
  onProgress?: (scanned: number) => void,
): Promise<StoredObjects> {
  let kept: Array<StoredObject & { mtimeMs: number }> = [];
  let total = 0;
  let totalBytes = 0;
  const pending: string[] = [dir];
  while (pending.length > 0) {
    const current = pending.pop()!;
    let entries: Dirent[];
    try {
      entries = await readdir(current, { withFileTypes: true });
    } catch (err) {
      // A directory removed while we walk (an upload finishing) is not an error worth stopping for.
      if ((err as { code?: string }).code === 'ENOENT' && current !== dir) continue;
      throw err;
    }
    for (const entry of entries) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRS.has(entry.name)) pending.push(full);
        continue;
      }
      if (!entry.isFile()) continue;
      const st = await stat(full).catch(() => undefined);
      if (st === undefined) continue;
      total++;
      totalBytes += st.size;
      kept.push({
        key: path.relative(dir, full).split(path.sep).join('/'),
        size: st.size,
        mtime: st.mtime.toISOString(),
        mtimeMs: st.mtimeMs,
      });
      // Bounded memory on a large store: trim now and then instead of holding every entry.
      if (kept.length > limit * 10) kept = newest(kept, limit);
      onProgress?.(total);
    }
  }
  return { dir, total, totalBytes, recent: newest(kept, limit).map(({ key, size, mtime }) => ({ key, size, mtime })) };
}

function newest<T extends { mtimeMs: number; key: string }>(list: T[], limit: number): T[] {
  return [...list].sort((a, b) => b.mtimeMs - a.mtimeMs || a.key.localeCompare(b.key)).slice(0, limit);
}
