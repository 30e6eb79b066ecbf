import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Test } from '@nestjs/testing';
import { createEventBus } from './create-event-bus';
import { EventBusModule } from './event-bus.module';
import { silentEventBusLogger } from './event-bus.logger';
import { EVENT_BUS, type EventBus } from './event-bus.port';
import { FileLogEventBus } from './file-log/file-log-event-bus';
import { KafkaEventBus } from './kafka/kafka-event-bus';
import { MemoryEventBus } from './memory/memory-event-bus';

describe('EventBusModule', () => {
  it('provides EVENT_BUS globally and closes it on application shutdown', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [EventBusModule.forRoot({ kind: 'memory' }, { logger: silentEventBusLogger })],
    }).compile();
    const bus = moduleRef.get<EventBus>(EVENT_BUS);
    expect(bus).toBeInstanceOf(MemoryEventBus);
    expect(await bus.isReady()).toBe(true);
    await moduleRef.close();
    expect(await bus.isReady()).toBe(false);
  });

  it('opens the file log under the configured directory, releasing it on shutdown', async () => {
    const dir = await fs.mkdtemp(join(tmpdir(), 'zp-bus-module-'));
    try {
      const moduleRef = await Test.createTestingModule({
        imports: [EventBusModule.forRoot({ kind: 'file', dir }, { logger: silentEventBusLogger })],
      }).compile();
      expect(moduleRef.get(EVENT_BUS)).toBeInstanceOf(FileLogEventBus);
      await moduleRef.close();
      // Released: a new instance can take the directory.
      const again = await createEventBus({ kind: 'file', dir }, { logger: silentEventBusLogger });
      await again.close();
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('builds a Kafka bus without connecting (connections are lazy)', async () => {
    const bus = await createEventBus(
      { kind: 'kafka', brokers: ['127.0.0.1:1'], clientId: 'unit', publishTimeoutMs: 500 },
      { logger: silentEventBusLogger },
    );
    expect(bus).toBeInstanceOf(KafkaEventBus);
    await bus.close();
  });
});
