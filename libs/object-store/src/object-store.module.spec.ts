import { Test } from '@nestjs/testing';
import { createObjectStore } from './object-store.config';
import { ObjectStoreModule } from './object-store.module';
import { OBJECT_STORE, type ObjectStore } from './object-store.port';
import { MemoryObjectStore } from './memory/memory-object-store';
import { S3ObjectStore } from './s3/s3-object-store';

describe('ObjectStoreModule', () => {
  it('provides OBJECT_STORE from config and closes it on application shutdown', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [ObjectStoreModule.forRoot({ kind: 'memory' })],
    }).compile();
    await moduleRef.init();
    const store = moduleRef.get<ObjectStore>(OBJECT_STORE);
    expect(store).toBeInstanceOf(MemoryObjectStore);

    await moduleRef.close();

    expect(await store.isReady()).toBe(false);
  });
});

describe('createObjectStore', () => {
  it('refuses a part size below S3 minimum of 5 MiB', () => {
    expect(() =>
      createObjectStore({ kind: 's3', bucket: 'b', region: 'us-east-1', partSizeBytes: 1024 * 1024 }),
    ).toThrow('5 MiB');
  });

  it('builds the S3 adapter without network access until used', async () => {
    const store = createObjectStore({ kind: 's3', bucket: 'b', region: 'us-east-1', endpoint: 'http://127.0.0.1:1' });
    expect(store).toBeInstanceOf(S3ObjectStore);
    expect(store.bucket).toBe('b');
    await store.close();
  });
});
