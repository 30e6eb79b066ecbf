import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  renameSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describeObjectStoreContract, testBody } from '../testing';
import { FilesystemObjectStore } from './filesystem-object-store';

// The module object itself (an `import * as` namespace would be a copy): spies on it reach the adapter.
const fsPromises = jest.requireActual<typeof import('node:fs/promises')>('node:fs/promises');

const dirs: string[] = [];
function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'zp-fs-object-store-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) {
    rmSync(dir, { recursive: true, force: true });
  }
});

describeObjectStoreContract('filesystem', { create: async () => new FilesystemObjectStore({ dir: freshDir() }) });

describe('FilesystemObjectStore', () => {
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('stores the bytes at <dir>/<key> and the metadata at <dir>/.meta/<key>.json', async () => {
    const dir = freshDir();
    const store = new FilesystemObjectStore({ dir });
    const body = testBody(70_000);

    await store.put({ key: 'acc/2026/x.mp4', body: body.stream, contentLength: 70_000, metadata: { id: 'f1' } });

    const bytes = readFileSync(join(dir, 'acc/2026/x.mp4'));
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(body.sha256());
    const sidecar = JSON.parse(readFileSync(join(dir, '.meta/acc/2026/x.mp4.json'), 'utf8')) as Record<string, unknown>;
    expect(sidecar).toMatchObject({
      size: 70_000,
      sha256: body.sha256(),
      metadata: { id: 'f1', sha256: body.sha256() },
    });
    expect(readdirSync(join(dir, '.tmp'))).toEqual([]);
  });

  it('renames the metadata into place before the object, so head never sees an object without metadata', async () => {
    const dir = freshDir();
    const store = new FilesystemObjectStore({ dir });
    const rename = jest.spyOn(fsPromises, 'rename');

    await store.put({ key: 'k/obj.bin', body: Readable.from([Buffer.from('x')]), contentLength: 1, metadata: {} });

    expect(rename.mock.calls.map(([, to]) => String(to))).toEqual([
      join(dir, '.meta/k/obj.bin.json'),
      join(dir, 'k/obj.bin'),
    ]);
  });

  it('fsyncs the data before it becomes visible', async () => {
    const dir = freshDir();
    const store = new FilesystemObjectStore({ dir });
    const events: string[] = [];
    const probe = await fsPromises.open(join(dir, 'probe'), 'w');
    await probe.close();
    jest.spyOn(Object.getPrototypeOf(probe) as { sync(): Promise<void> }, 'sync').mockImplementation(async () => {
      events.push('sync');
    });
    jest.spyOn(fsPromises, 'rename').mockImplementation(async (from, to) => {
      events.push(`rename ${String(to).startsWith(join(dir, '.meta')) ? 'meta' : 'object'}`);
      renameSync(from, to);
    });

    await store.put({ key: 'obj.bin', body: Readable.from([Buffer.from('abc')]), contentLength: 3, metadata: {} });

    // object file, sidecar file, then each rename followed by a directory fsync
    expect(events).toEqual(['sync', 'sync', 'rename meta', 'sync', 'rename object', 'sync']);
  });

  it('removes its temp file when a put fails', async () => {
    const dir = freshDir();
    const store = new FilesystemObjectStore({ dir });

    await expect(
      store.put({ key: 'short.bin', body: testBody(10).stream, contentLength: 20, metadata: {} }),
    ).rejects.toThrow('size mismatch');

    expect(readdirSync(join(dir, '.tmp'))).toEqual([]);
    expect(existsSync(join(dir, 'short.bin'))).toBe(false);
    expect(existsSync(join(dir, '.meta/short.bin.json'))).toBe(false);
  });

  it('removes temp files a crash left behind, but not ones a running upload may own', async () => {
    const dir = freshDir();
    mkdirSync(join(dir, '.tmp'), { recursive: true });
    writeFileSync(join(dir, '.tmp/stale'), 'partial');
    const old = new Date(Date.now() - 2 * 3_600_000);
    utimesSync(join(dir, '.tmp/stale'), old, old);
    writeFileSync(join(dir, '.tmp/recent'), 'partial');

    expect(await new FilesystemObjectStore({ dir }).isReady()).toBe(true);

    expect(readdirSync(join(dir, '.tmp'))).toEqual(['recent']);
  });

  it("removes at start-up the temp files of a killed process, however recent, and keeps a live process's", async () => {
    const dir = freshDir();
    mkdirSync(join(dir, '.tmp'), { recursive: true });
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
      encoding: 'utf8',
    }).stdout;
    writeFileSync(join(dir, `.tmp/${dead}-0f8e`), 'partial of a SIGKILLed put');
    writeFileSync(join(dir, `.tmp/${process.pid}-1a2b`), 'partial of our own previous incarnation');
    writeFileSync(join(dir, `.tmp/${process.ppid}-3c4d`), 'owned by a live process');

    expect(await new FilesystemObjectStore({ dir }).isReady()).toBe(true);

    expect(readdirSync(join(dir, '.tmp'))).toEqual([`${process.ppid}-3c4d`]);
  });

  it('reports a key segment over 255 bytes as a permanent key rejection, not a retryable failure', async () => {
    const store = new FilesystemObjectStore({ dir: freshDir() });
    await expect(
      store.put({ key: `a/${'x'.repeat(300)}`, body: testBody(1).stream, contentLength: 1, metadata: {} }),
    ).rejects.toMatchObject({
      name: 'ObjectStoreError',
      retryable: false,
      failure: 'key_rejected',
    });
  });

  it.each(['.tmp/x.bin', '.meta/x.bin'])('refuses the reserved key %j', async (key) => {
    const store = new FilesystemObjectStore({ dir: freshDir() });
    await expect(store.put({ key, body: testBody(1).stream, contentLength: 1, metadata: {} })).rejects.toMatchObject({
      retryable: false,
    });
  });

  it('reports a key that collides with an existing object path as a permanent failure', async () => {
    const store = new FilesystemObjectStore({ dir: freshDir() });
    await store.put({ key: 'a', body: testBody(1).stream, contentLength: 1, metadata: {} });

    await expect(
      store.put({ key: 'a/b', body: testBody(1).stream, contentLength: 1, metadata: {} }),
    ).rejects.toMatchObject({
      name: 'ObjectStoreError',
      retryable: false,
    });
    expect(await store.head('a/b')).toBeNull();
  });
});
