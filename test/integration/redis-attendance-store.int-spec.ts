// AttendanceStore contract against the real Redis started by scripts/infra.sh, and that the Redis URL never
// reaches an error message.
import {
  AttendanceStoreUnavailableError,
  type AttendanceStore,
  RedisAttendanceStore,
} from '@zoom-pipeline/attendance-store';
import { describeAttendanceStoreContract } from '@zoom-pipeline/attendance-store/testing';
import { loadEndpoints, uniqueName } from '@zoom-pipeline/test-support';

const { redisUrl } = loadEndpoints();
const keyPrefix = `${uniqueName('attendance-int')}:`;

jest.setTimeout(60_000);

let current: AttendanceStore | undefined;
describeAttendanceStoreContract('redis', {
  create: async () => (current = new RedisAttendanceStore({ url: redisUrl, keyPrefix })),
  reopen: async () => {
    await current?.close();
    return (current = new RedisAttendanceStore({ url: redisUrl, keyPrefix }));
  },
});

describe('RedisAttendanceStore without a server', () => {
  it('fails with attendance_store_unavailable and no password in the message', async () => {
    const store = new RedisAttendanceStore({
      url: 'redis://:s3cr3t-pw@127.0.0.1:1',
      keyPrefix,
      connectTimeoutMs: 200,
      commandTimeoutMs: 200,
    });
    const err = await store.links(['z']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AttendanceStoreUnavailableError);
    expect((err as Error).message).not.toContain('s3cr3t-pw');
    expect(await store.isReady()).toBe(false);
    await store.close();
  });
});
