import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { access, type FileHandle, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fsyncDirectory, processAlive, writeFully } from '@zoom-pipeline/file-journal';
import type { ObjectInfo, ObjectStore, PutObjectInput, PutObjectResult } from '../object-store.port';
import { ObjectStoreError } from '../object-store.port';
import { firstError, MeteredStream, putFailure } from '../internal/metered-stream';
import { assertObjectKey, checkPutInput, SHA256_METADATA, sha256Etag, SIZE_METADATA } from '../internal/put-input';

export interface FilesystemObjectStoreOptions {
  /** Root directory; objects at `<dir>/<key>`, metadata at `<dir>/.meta/<key>.json`. Created if missing. */
  dir: string;
  /**
   * Temp files of an older naming (no owner pid) older than this are removed on start-up. Temp files named by
   * their owner's pid are removed at start-up whenever that process is gone (or is us: none of ours is live
   * yet), whatever their age. Default 1 h.
   */
  staleTempMs?: number;
}

/** The sidecar JSON next to each object. */
interface Sidecar {
  size: number;
  etag: string;
  sha256: string;
  contentType: string;
  metadata: Record<string, string>;
}

const TMP_DIR = '.tmp';
const META_DIR = '.meta';
/** Errors that another attempt will not fix. */
const PERMANENT_CODES = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EISDIR', 'ENAMETOOLONG', 'EINVAL', 'EEXIST']);
/** Of those, the ones this key causes (a name over 255 bytes, `a` and `a/b` both as objects): the input's fault. */
const KEY_CODES = new Set(['ENOTDIR', 'EISDIR', 'ENAMETOOLONG', 'EEXIST']);

/**
 * Object store for standalone mode, on a local directory. Durable and all-or-nothing like S3:
 * bytes stream into `.tmp/` (counted and hashed on the way), the size is checked, the file is fsynced
 * and renamed into place atomically, and the parent directory is fsynced so the rename survives a crash.
 * The metadata sidecar is written the same way BEFORE the object is renamed, so `head` never finds an
 * object without its metadata. On any failure the temp file is deleted and nothing becomes visible.
 *
 * Limits of a filesystem: `a` and `a/b` cannot both be objects (S3 allows it), and a segment is at most
 * 255 bytes. During an overwrite of the same key, a concurrent `head` can briefly see the new metadata
 * with the old bytes (and keeps seeing it if the process dies between the two renames, until the put is
 * retried).
 */
export class FilesystemObjectStore implements ObjectStore {
  readonly bucket: string;
  private readonly root: string;
  private readonly staleTempMs: number;
  private initialising: Promise<void> | undefined;

  constructor(options: FilesystemObjectStoreOptions) {
    if (typeof options.dir !== 'string' || options.dir.length === 0) {
      throw new ObjectStoreError('filesystem object store needs a directory', false);
    }
    this.root = resolve(options.dir);
    this.bucket = this.root;
    this.staleTempMs = options.staleTempMs ?? 3_600_000;
  }

  async put(input: PutObjectInput): Promise<PutObjectResult> {
    let metadata: Record<string, string>;
    let objectPath: string;
    let metaPath: string;
    try {
      metadata = checkPutInput(input);
      objectPath = this.objectPath(input.key);
      metaPath = this.metaPath(input.key);
      await this.init();
    } catch (err) {
      input.body.destroy();
      throw err;
    }

    // Named by our pid so the next start-up knows whether a live transfer still owns it (see init).
    const tmpObject = join(this.root, TMP_DIR, `${process.pid}-${randomUUID()}`);
    const tmpMeta = `${tmpObject}.json`;
    const meter = new MeteredStream(input.contentLength);
    const failed = firstError({ body: input.body, meter });
    let metaRenamed = false;
    try {
      const handle = await open(tmpObject, 'wx', 0o644);
      try {
        // A plain Writable over handle.write rather than handle.createWriteStream(): with autoClose off, the
        // stream keeps a reference that makes handle.close() wait forever; we need the handle for fsync.
        await pipeline(input.body, meter, fileWriter(handle), { signal: input.signal });
        await handle.sync();
      } finally {
        await handle.close().catch(() => undefined);
      }

      const sha256 = meter.sha256;
      const etag = sha256Etag(sha256);
      const sidecar: Sidecar = {
        size: meter.bytes,
        etag,
        sha256,
        contentType: input.contentType ?? 'application/octet-stream',
        metadata: { ...metadata, [SIZE_METADATA]: String(meter.bytes), [SHA256_METADATA]: sha256 },
      };
      await writeDurably(tmpMeta, JSON.stringify(sidecar));
      // Last chance to honour an abort: after this point the object becomes visible.
      if (input.signal?.aborted) {
        throw new ObjectStoreError('put aborted', true, { failure: 'aborted' });
      }
      await this.moveIntoPlace(tmpMeta, metaPath);
      metaRenamed = true;
      await this.moveIntoPlace(tmpObject, objectPath);
      return { bucket: this.bucket, key: input.key, size: meter.bytes, etag, sha256 };
    } catch (err) {
      const origin = failed();
      input.body.destroy();
      await rm(tmpObject, { force: true }).catch(() => undefined);
      await rm(tmpMeta, { force: true }).catch(() => undefined);
      if (metaRenamed && !(await exists(objectPath))) {
        // The object never arrived: its metadata alone must not linger.
        await rm(metaPath, { force: true }).catch(() => undefined);
      }
      throw putFailure(err, {
        what: 'put',
        signal: input.signal,
        sourceError: origin?.origin === 'body' ? origin.error : undefined,
        storageError: (e) => fsError('put', e),
      });
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    const objectPath = this.objectPath(key);
    let size: number;
    try {
      const info = await stat(objectPath);
      if (!info.isFile()) {
        return null;
      }
      size = info.size;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        return null;
      }
      throw fsError('head', err);
    }
    try {
      const sidecar = JSON.parse(await readFile(this.metaPath(key), 'utf8')) as Sidecar;
      return { key, size, etag: sidecar.etag, metadata: sidecar.metadata, sha256: sidecar.sha256 };
    } catch (err) {
      throw fsError('head (metadata)', err);
    }
  }

  async listIncompleteUploads(): Promise<Array<{ key: string; uploadId: string; initiated?: Date }>> {
    // Temp files are not uploads anyone could resume or abort; nothing multipart exists here.
    return [];
  }

  /** No multipart uploads here: a crashed put leaves only a temp file, never a visible object. */
  async abortIncompleteUploads(_key: string): Promise<number> {
    return 0;
  }

  async isReady(): Promise<boolean> {
    try {
      await this.init();
      await access(this.root, constants.W_OK);
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    // Nothing held open between calls.
  }

  /**
   * Creates the directories once and removes the temp files no live transfer owns: a SIGKILLed put leaves
   * its temp file (multi-GB for a real recording), and waiting an hour for it to age kept the disk full. This
   * runs before this instance's first put, so a file named by our own pid is a previous incarnation's (pid 1
   * in a container, every time).
   */
  private init(): Promise<void> {
    this.initialising ??= (async () => {
      await mkdir(join(this.root, TMP_DIR), { recursive: true });
      await mkdir(join(this.root, META_DIR), { recursive: true });
      const cutoff = Date.now() - this.staleTempMs;
      for (const name of await readdir(join(this.root, TMP_DIR))) {
        const path = join(this.root, TMP_DIR, name);
        const owner = /^(\d+)-/.exec(name);
        let orphan: boolean;
        if (owner !== null) {
          const pid = Number(owner[1]);
          orphan = pid === process.pid || !processAlive(pid);
        } else {
          const info = await stat(path).catch(() => undefined);
          orphan = info !== undefined && info.mtimeMs < cutoff;
        }
        if (orphan) await rm(path, { force: true, recursive: true }).catch(() => undefined);
      }
    })().catch((err: unknown) => {
      this.initialising = undefined;
      throw fsError('init', err);
    });
    return this.initialising;
  }

  private objectPath(key: string): string {
    assertObjectKey(key);
    const first = key.split('/')[0];
    if (first === TMP_DIR || first === META_DIR) {
      throw new ObjectStoreError(`invalid object key: "${first}/" is reserved by the filesystem store`, false, {
        failure: 'key_rejected',
      });
    }
    return this.inside(join(this.root, key));
  }

  private metaPath(key: string): string {
    return this.inside(join(this.root, META_DIR, `${key}.json`));
  }

  /** Defence in depth behind `assertObjectKey`: a path must stay under the root. */
  private inside(path: string): string {
    if (!path.startsWith(this.root + sep)) {
      throw new ObjectStoreError('invalid object key: escapes the store directory', false, { failure: 'key_rejected' });
    }
    return path;
  }

  /** Atomic rename into place, creating parents durably, then fsync of the parent so the rename survives. */
  private async moveIntoPlace(from: string, to: string): Promise<void> {
    await ensureDirectory(dirname(to));
    await rename(from, to);
    await fsyncDirectory(dirname(to));
  }
}

function fileWriter(handle: FileHandle): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      writeFully(handle, chunk).then(() => callback(), callback);
    },
  });
}

async function writeDurably(path: string, text: string): Promise<void> {
  const handle = await open(path, 'wx', 0o644);
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** mkdir -p, fsyncing the parent of every directory it created, so the new path itself is durable. */
async function ensureDirectory(dir: string): Promise<void> {
  const firstCreated = await mkdir(dir, { recursive: true });
  if (firstCreated === undefined) {
    return;
  }
  const created: string[] = [];
  for (let d = dir; d.length >= firstCreated.length; d = dirname(d)) {
    created.unshift(d);
  }
  for (const d of created) {
    await fsyncDirectory(dirname(d));
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

function fsError(op: string, err: unknown): ObjectStoreError {
  if (err instanceof ObjectStoreError) {
    return err;
  }
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? '';
  const permanent = PERMANENT_CODES.has(code);
  return new ObjectStoreError(`filesystem ${op} failed (${code || 'error'})`, !permanent, {
    cause: err,
    failure: KEY_CODES.has(code) ? 'key_rejected' : permanent ? 'rejected' : 'unavailable',
  });
}
