/**
 * The file steps every embedded adapter's durability rests on, written once: a write that writes everything,
 * a directory fsync (a new or renamed file's entry survives a crash), and the atomic replace of a whole file.
 */
import { type FileHandle, open, rename, rm } from 'node:fs/promises';

/** Writes all of `data` (`FileHandle.write` may write less than asked); at `position`, else where the file is. */
export async function writeFully(handle: FileHandle, data: Buffer, position?: number): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await handle.write(
      data,
      offset,
      data.length - offset,
      position === undefined ? undefined : position + offset,
    );
    offset += bytesWritten;
  }
}

/** Makes a directory's entries durable: without it a crash can lose a file that was created or renamed. */
export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replaces the file at `path` with what `write` puts into a fresh handle: written to `<path><suffix>`, fsynced,
 * renamed over `path`. A crash at any point leaves the old or the new complete file, never a torn one. The caller
 * fsyncs the directory afterwards (so the rename survives a crash); when this rejects, the old file is intact.
 */
export async function replaceFile<T>(
  path: string,
  write: (handle: FileHandle) => Promise<T>,
  options: { suffix?: string; mode?: number } = {},
): Promise<T> {
  const tmp = `${path}${options.suffix ?? '.tmp'}`;
  const handle = await open(tmp, 'w', options.mode ?? 0o600);
  let result: T;
  try {
    result = await write(handle);
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  await handle.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  return result;
}
