import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { replaceFile, writeFully } from './durable-file';

describe('replaceFile', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'zp-durable-file-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('puts the new content in place, owner-only, with no temporary file left', async () => {
    const path = join(dir, 'state.json');
    writeFileSync(path, 'old');
    await replaceFile(path, (handle) => writeFully(handle, Buffer.from('new')));
    expect(readFileSync(path, 'utf8')).toBe('new');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['state.json']);
  });

  it('leaves the old file intact and removes the temporary one when writing fails', async () => {
    const path = join(dir, 'state.json');
    writeFileSync(path, 'old');
    await expect(
      replaceFile(path, async (handle) => {
        await writeFully(handle, Buffer.from('half'));
        throw new Error('ENOSPC');
      }),
    ).rejects.toThrow('ENOSPC');
    expect(readFileSync(path, 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['state.json']);
  });
});

describe('writeFully', () => {
  it('writes at a position when given one, else where the file is', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'zp-durable-file-'));
    try {
      const handle = await open(join(dir, 'f'), 'w+');
      await writeFully(handle, Buffer.from('abcdef'));
      await writeFully(handle, Buffer.from('XY'), 2);
      await handle.close();
      expect(readFileSync(join(dir, 'f'), 'utf8')).toBe('abXYef');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
