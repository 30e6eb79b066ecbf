import { Readable } from 'node:stream';
import { describeObjectStoreContract } from '../testing';
import { ObjectStoreError } from '../object-store.port';
import { MemoryObjectStore } from './memory-object-store';

describeObjectStoreContract('memory', { create: async () => new MemoryObjectStore() });

describe('MemoryObjectStore', () => {
  it('keeps the exact bytes it was given', async () => {
    const store = new MemoryObjectStore();
    const bytes = Buffer.from('exact bytes ✓');

    await store.put({ key: 'a/b.txt', body: Readable.from([bytes]), contentLength: bytes.length, metadata: {} });

    expect(store.read('a/b.txt')).toEqual(bytes);
  });

  it('refuses calls after close', async () => {
    const store = new MemoryObjectStore();
    await store.close();

    await expect(store.head('a')).rejects.toBeInstanceOf(ObjectStoreError);
    expect(await store.isReady()).toBe(false);
  });
});
