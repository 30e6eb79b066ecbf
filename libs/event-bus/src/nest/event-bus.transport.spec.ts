import { Controller, type INestApplication, Module, type OnApplicationBootstrap } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { HealthService, ServiceKitModule, createMetricsRegistry } from '@zoom-pipeline/service-kit';
import { createLogger } from '@zoom-pipeline/telemetry';
import { Writable } from 'node:stream';
import type { Registry } from 'prom-client';
import { type LogFields, silentEventBusLogger } from '../event-bus.logger';
import { type BatchResult, type ConsumedMessage, EVENT_BUS } from '../event-bus.port';
import { MemoryEventBus } from '../memory/memory-event-bus';
import { BusHandler, type HandlerBatch } from './bus-handler.decorator';
import { startBusConsumers } from './event-bus.transport';

const seen: string[] = [];
let bootstrapHooks = 0;
let failuresLeft = 0;
let storeDown = false;

@Controller()
class UppercaseConsumer implements OnApplicationBootstrap {
  onApplicationBootstrap(): void {
    bootstrapHooks++;
  }

  @BusHandler('in', {
    name: 'upper',
    groupId: 'upper-group',
    ensureTopics: [
      { topic: 'in', partitions: 2 },
      { topic: 'out', partitions: 1 },
    ],
    maxBatchSize: 10,
  })
  async handle(batch: HandlerBatch): Promise<BatchResult> {
    if (failuresLeft > 0) {
      failuresLeft--;
      throw Object.assign(new Error('store down'), { code: 'store_unavailable' });
    }
    return {
      outputs: batch.messages.map((m) =>
        batch.withRecord(m, () => {
          seen.push(m.value.toString());
          expect(batch.spanOf(m)).toBeDefined();
          return { topic: 'out', key: m.key, value: Buffer.from(m.value.toString().toUpperCase()) };
        }),
      ),
    };
  }
}

/** A handler with a poison record ('poison' throws an error of its own) and a dependency that can be down. */
@Controller()
class PickyConsumer {
  @BusHandler('picky', {
    name: 'picky',
    groupId: 'picky-group',
    ensureTopics: [
      { topic: 'picky', partitions: 1 },
      { topic: 'out', partitions: 1 },
    ],
    maxBatchSize: 10,
  })
  async handle(batch: HandlerBatch): Promise<BatchResult> {
    if (storeDown) throw Object.assign(new Error('store down'), { code: 'dedup_store_unavailable' });
    for (const m of batch.messages) {
      if (m.value.toString() === 'poison') throw new TypeError('cannot serialise this record');
    }
    return {
      outputs: batch.messages.map((m) => ({
        topic: 'out',
        key: m.key,
        value: Buffer.from(`picky:${m.value.toString()}`),
      })),
    };
  }
}

/** A second feature's handler on the same topic as UppercaseConsumer, in a group of its own. */
@Controller()
class CopyConsumer {
  @BusHandler('in', { name: 'copy', groupId: 'copy-group', ensureTopics: [{ topic: 'copies', partitions: 1 }] })
  async handle(batch: HandlerBatch): Promise<BatchResult> {
    return {
      outputs: batch.messages.map((m) => ({ topic: 'copies', key: m.key, value: Buffer.from(`copy:${m.value}`) })),
    };
  }
}

async function readAll(bus: MemoryEventBus, topic: string, count: number): Promise<string[]> {
  return (await readRecords(bus, topic, count)).map((m) => m.value.toString()).sort();
}

async function readRecords(bus: MemoryEventBus, topic: string, count: number): Promise<ConsumedMessage[]> {
  const got: ConsumedMessage[] = [];
  const handle = await bus.consume({
    groupId: `reader-${Math.random()}`,
    topics: [topic],
    eachBatch: async (b) => {
      got.push(...b.messages);
      return { outputs: [] };
    },
  });
  for (let i = 0; i < 200 && got.length < count; i++) await new Promise((r) => setTimeout(r, 10));
  await handle.stop();
  return got;
}

describe('EventBusTransport', () => {
  let app: INestApplication;
  let bus: MemoryEventBus;
  let registry: Registry;
  const busWarnings: LogFields[] = [];

  beforeEach(async () => {
    seen.length = 0;
    bootstrapHooks = 0;
    storeDown = false;
    busWarnings.length = 0;
    bus = new MemoryEventBus({
      retryBackoff: { initialMs: 1, maxMs: 5 },
      logger: { ...silentEventBusLogger, warn: (fields) => busWarnings.push(fields) },
    });
    registry = createMetricsRegistry('transport-test');
    const logger = createLogger({
      name: 'transport-test',
      level: 'silent',
      destination: new Writable({ write: (_c, _e, cb) => cb() }),
    });
    @Module({ providers: [{ provide: EVENT_BUS, useValue: bus }], exports: [EVENT_BUS] })
    class BusModule {}
    const moduleRef = await Test.createTestingModule({
      imports: [ServiceKitModule.forRoot({ logger, registry }), BusModule],
      controllers: [UppercaseConsumer, PickyConsumer, CopyConsumer],
    }).compile();
    app = moduleRef.createNestApplication(new FastifyAdapter());
    await startBusConsumers(app);
    await app.init();
  });

  afterEach(async () => {
    await app.close();
  });

  it('runs the lifecycle hooks once although the app and the transport share the container', () => {
    // A second onApplicationBootstrap would start a feature's timers twice (e.g. two reconcile schedules).
    expect(bootstrapHooks).toBe(1);
  });

  it('runs a declared handler: outputs published, topics created, readiness and lag registered', async () => {
    await bus.publish(['a', 'b', 'c'].map((v) => ({ topic: 'in', key: v, value: Buffer.from(v) })));
    expect(await readAll(bus, 'out', 3)).toEqual(['A', 'B', 'C']);
    const ready = await app.get(HealthService).ready();
    expect(ready.checks).toMatchObject({ 'event-bus': true, 'upper-consumer': true });
    expect(app.get(HealthService).live().checks['upper-consumer']).toBe(true);
    expect(await registry.getSingleMetricAsString('zoom_consumer_lag')).toContain('group="upper-group"');
  });

  it('runs every handler of one topic, each in its own group (two features consuming zoom.events)', async () => {
    await bus.publish(['d', 'e'].map((v) => ({ topic: 'in', key: v, value: Buffer.from(v) })));
    expect(await readAll(bus, 'out', 2)).toEqual(['D', 'E']);
    expect(await readAll(bus, 'copies', 2)).toEqual(['copy:d', 'copy:e']);
    expect(app.get(HealthService).live().checks).toMatchObject({ 'upper-consumer': true, 'copy-consumer': true });
  });

  it('a throwing handler is redelivered the same records, and nothing is committed until it succeeds', async () => {
    failuresLeft = 2;
    await bus.publish([{ topic: 'in', key: 'k', value: Buffer.from('x') }]);
    expect(await readAll(bus, 'out', 1)).toEqual(['X']);
    expect(failuresLeft).toBe(0);
    expect(seen).toEqual(['x']);
    // The handler's own error reaches the bus (Nest's RPC filter would have replaced it by {status, message}).
    expect(busWarnings.map((w) => w.error)).toEqual(['store down', 'store down']);
  });

  it('stops its consumers when the app closes: later records wait for the next start', async () => {
    await app.close();
    await bus.publish([{ topic: 'in', key: 'late', value: Buffer.from('late') }]);
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toEqual([]);
    app = await Test.createTestingModule({ imports: [] })
      .compile()
      .then((m) => m.createNestApplication(new FastifyAdapter()));
  });

  it('a poison record is dead-lettered with its reason and the records around it are processed', async () => {
    await bus.publish(['a', 'poison', 'b'].map((v) => ({ topic: 'picky', key: 'same-key', value: Buffer.from(v) })));
    expect(await readAll(bus, 'out', 2)).toEqual(['picky:a', 'picky:b']);
    const [dead] = await readRecords(bus, 'zoom.webhooks.dead', 1);
    expect(dead.value.toString()).toBe('poison');
    expect(dead.headers).toMatchObject({
      'zp-error-code': 'TypeError',
      'zp-dead-letter-reason': 'record_failed_repeatedly',
      'zp-source': 'picky/0/1',
      'zp-consumer-group': 'picky-group',
      'zp-attempts': '3',
    });
    expect(dead.headers['zp-error']).toContain('cannot serialise this record');
  });

  it('a transient failure is waited out, not dead-lettered, and shows as a stalled partition meanwhile', async () => {
    storeDown = true;
    await bus.publish([{ topic: 'picky', key: 'k', value: Buffer.from('c') }]);
    for (
      let i = 0;
      i < 200 && !(await registry.getSingleMetricAsString('zoom_consumer_stalled_seconds')).includes('picky-group');
      i++
    ) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(await registry.getSingleMetricAsString('zoom_consumer_stalled_seconds')).toMatch(
      /group="picky-group",topic="picky",partition="0"/,
    );
    await new Promise((r) => setTimeout(r, 100)); // far more attempts than poisonAfterAttempts
    storeDown = false;
    expect(await readAll(bus, 'out', 1)).toEqual(['picky:c']);
    expect(await readRecords(bus, 'zoom.webhooks.dead', 1)).toEqual([]);
    expect(await registry.getSingleMetricAsString('zoom_consumer_stalled_seconds')).not.toContain('picky-group');
  });
});
