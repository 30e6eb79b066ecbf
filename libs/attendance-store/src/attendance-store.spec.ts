import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedAttendanceStore } from './embedded/embedded-attendance-store';
import { MemoryAttendanceStore } from './memory/memory-attendance-store';
import { describeAttendanceStoreContract } from './testing';

describeAttendanceStoreContract('memory', { create: async () => new MemoryAttendanceStore() });

const dirs: string[] = [];
let current: EmbeddedAttendanceStore | undefined;
let dir = '';
describeAttendanceStoreContract('embedded', {
  create: async () => {
    dir = await mkdtemp(join(tmpdir(), 'zp-attendance-'));
    dirs.push(dir);
    current = await EmbeddedAttendanceStore.open({ dir });
    return current;
  },
  reopen: async () => {
    await current!.close();
    // A torn last line from a crash mid-append is skipped.
    await appendFile(join(dir, 'attendance.log'), '{"k":"reg","r":{"meet');
    current = await EmbeddedAttendanceStore.open({ dir });
    return current;
  },
});

afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
