import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentEventBusLogger } from '../event-bus.logger';
import { appendTornHeader, describeEventBusContract, tearLastJournalFrame, waitUntil } from '../testing';
import { decodeEntries } from './journal-codec';
import { listSegments, scanFrames } from '@zoom-pipeline/file-journal';
import { FileLogEventBus } from './file-log-event-bus';

const dirs: string[] = [];
let currentDir = '';
let counter = 0;

async function freshDir(): Promise<string> {
  const dir = await fs.mkdtemp(join(tmpdir(), 'zp-file-log-'));
  dirs.push(dir);
  return dir;
}

afterAll(async () => {
  await Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true })));
});

describeEventBusContract('file log', {
  create: async () => {
    currentDir = await freshDir();
    return FileLogEventBus.open({ dir: currentDir, logger: silentEventBusLogger });
  },
  reopen: () => FileLogEventBus.open({ dir: currentDir, logger: silentEventBusLogger }),
  tearLastWrite: async () => {
    await tearLastJournalFrame(currentDir);
  },
  topic: (prefix) => `${prefix}-${++counter}`,
  timeoutMs: 10_000,
});

/** Every message entry on disk, in journal order (what a restart would replay). */
async function messagesOnDisk(dir: string): Promise<string[]> {
  const values: string[] = [];
  for (const segment of await listSegments(dir)) {
    for (const frame of scanFrames(await fs.readFile(segment.path)).frames) {
      for (const entry of decodeEntries(frame.payload)) {
        if (entry.kind === 'message') values.push(entry.value.toString());
      }
    }
  }
  return values;
}

describe('FileLogEventBus', () => {
  it('has a publish on disk, in a valid frame, by the time the promise resolves', async () => {
    const dir = await freshDir();
    const bus = await FileLogEventBus.open({ dir, logger: silentEventBusLogger });
    await bus.ensureTopics([{ topic: 't', partitions: 1 }]);
    await bus.publish([{ topic: 't', key: 'k', value: Buffer.from('acked') }]);
    // Read through a separate file handle without closing the bus: nothing is buffered in user space.
    expect(await messagesOnDisk(dir)).toEqual(['acked']);
    await bus.close();
  });

  it('coalesces 2,000 concurrent publishes into few fsyncs and keeps every message exactly once', async () => {
    const dir = await freshDir();
    const bus = await FileLogEventBus.open({ dir, logger: silentEventBusLogger });
    await bus.ensureTopics([{ topic: 't', partitions: 12 }]);
    const before = bus.stats();
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: 2000 }, (_, i) =>
        bus.publish([{ topic: 't', key: `meeting-${i % 97}`, value: Buffer.from(`m${i}`) }]),
      ),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const after = bus.stats();
    const syncs = after.syncs - before.syncs;
    process.stdout.write(
      `file log: 2000 concurrent single-message publishes in ${(seconds * 1000).toFixed(0)} ms ` +
        `= ${Math.round(2000 / seconds)} msg/s, ${syncs} fsyncs\n`,
    );
    expect(after.frames - before.frames).toBe(2000);
    expect(syncs).toBeLessThan(200);
    const onDisk = await messagesOnDisk(dir);
    expect(onDisk).toHaveLength(2000);
    expect(new Set(onDisk).size).toBe(2000);
    await bus.close();
  });

  it('keeps up with 64 clients publishing back to back, sharing fsyncs', async () => {
    const dir = await freshDir();
    const bus = await FileLogEventBus.open({ dir, logger: silentEventBusLogger });
    await bus.ensureTopics([{ topic: 't', partitions: 12 }]);
    const body = Buffer.alloc(1024, 'x');
    const before = bus.stats();
    let next = 0;
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < 4000) {
          const i = next++;
          await bus.publish([{ topic: 't', key: `meeting-${i % 97}`, value: body }]);
        }
      }),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const syncs = bus.stats().syncs - before.syncs;
    process.stdout.write(
      `file log: 4000 publishes (1 KiB) from 64 back-to-back clients in ${(seconds * 1000).toFixed(0)} ms = ` +
        `${Math.round(4000 / seconds)} msg/s, ${syncs} fsyncs (${(4000 / syncs).toFixed(1)} publishes per fsync)\n`,
    );
    expect(syncs).toBeLessThan(4000 / 4);
    await bus.close();
  });

  it('recovers from a torn header at the tail: truncates it and keeps everything before', async () => {
    const dir = await freshDir();
    const bus = await FileLogEventBus.open({ dir, logger: silentEventBusLogger });
    await bus.ensureTopics([{ topic: 't', partitions: 1 }]);
    await bus.publish([{ topic: 't', key: 'k', value: Buffer.from('a') }]);
    await bus.close();
    await appendTornHeader(dir);

    const reopened = await FileLogEventBus.open({ dir, logger: silentEventBusLogger });
    await reopened.publish([{ topic: 't', key: 'k', value: Buffer.from('b') }]);
    await reopened.close();
    // The new append went where the garbage was, so it is readable after another restart.
    expect(await messagesOnDisk(dir)).toEqual(['a', 'b']);
  });

  it('rolls segments at the configured size and replays them in order', async () => {
    const dir = await freshDir();
    const bus = await FileLogEventBus.open({ dir, logger: silentEventBusLogger, segmentBytes: 512 });
    await bus.ensureTopics([{ topic: 't', partitions: 1 }]);
    for (let i = 0; i < 30; i++) {
      await bus.publish([{ topic: 't', key: 'k', value: Buffer.from(`message-${i}`.padEnd(40, '.')) }]);
    }
    await bus.close();
    expect((await listSegments(dir)).length).toBeGreaterThan(3);

    const reopened = await FileLogEventBus.open({ dir, logger: silentEventBusLogger, segmentBytes: 512 });
    const seen: string[] = [];
    const handle = await reopened.consume({
      groupId: 'g',
      topics: ['t'],
      eachBatch: async (batch) => {
        seen.push(...batch.messages.map((m) => m.value.toString().replace(/\.+$/, '')));
        return { outputs: [] };
      },
    });
    await waitUntil(() => seen.length === 30, 5_000, 'all 30 messages');
    expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => `message-${i}`));
    await handle.stop();
    await reopened.close();
  });

  it('refuses to open when a sealed (non-last) segment is corrupt, instead of dropping acknowledged data', async () => {
    const dir = await freshDir();
    const bus = await FileLogEventBus.open({ dir, logger: silentEventBusLogger, segmentBytes: 256 });
    await bus.ensureTopics([{ topic: 't', partitions: 1 }]);
    for (let i = 0; i < 10; i++) await bus.publish([{ topic: 't', key: 'k', value: Buffer.alloc(100, i) }]);
    await bus.close();
    const [first] = await listSegments(dir);
    const data = await fs.readFile(first.path);
    data[data.length - 3] ^= 0xff;
    await fs.writeFile(first.path, data);
    await expect(FileLogEventBus.open({ dir, logger: silentEventBusLogger, segmentBytes: 256 })).rejects.toMatchObject({
      code: 'journal_corrupt',
    });
  });

  it('lets one bus at a time open a directory', async () => {
    const dir = await freshDir();
    const bus = await FileLogEventBus.open({ dir, logger: silentEventBusLogger });
    await expect(FileLogEventBus.open({ dir, logger: silentEventBusLogger })).rejects.toThrow(/already open/);
    await bus.close();
    const again = await FileLogEventBus.open({ dir, logger: silentEventBusLogger });
    await again.close();
  });

  it('persists topics: a restart knows the partition count without ensureTopics', async () => {
    const dir = await freshDir();
    const bus = await FileLogEventBus.open({ dir, logger: silentEventBusLogger });
    await bus.ensureTopics([{ topic: 't', partitions: 5 }]);
    await bus.close();
    const reopened = await FileLogEventBus.open({ dir, logger: silentEventBusLogger });
    const handle = await reopened.consume({ groupId: 'g', topics: ['t'], eachBatch: async () => ({ outputs: [] }) });
    expect((await handle.lag()).map((l) => l.partition)).toEqual([0, 1, 2, 3, 4]);
    await handle.stop();
    await reopened.close();
  });
});
