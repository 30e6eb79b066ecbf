import { BackgroundConsumer } from './background-consumer';
import type { ConsumeOptions, ConsumerHandle, EventBus } from './event-bus.port';

function fakeBus() {
  const handles: Array<ConsumerHandle & { healthy: boolean; stopped: boolean }> = [];
  const bus = {
    ensureTopics: async () => undefined,
    consume: async (_o: ConsumeOptions) => {
      const h = {
        healthy: true,
        stopped: false,
        isHealthy: () => h.healthy,
        lag: async () => [],
        stop: async () => void (h.stopped = true),
      };
      handles.push(h);
      return h;
    },
  } as unknown as EventBus;
  return { bus, handles };
}

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 2));
};

describe('BackgroundConsumer', () => {
  it('replaces a consumer whose loop stopped making progress, in-process, and stops the dead one', async () => {
    const { bus, handles } = fakeBus();
    const errors: string[] = [];
    const c = new BackgroundConsumer(
      bus,
      { groupId: 'g', topics: ['t'], eachBatch: async () => ({ outputs: [] }) },
      [],
      (e) => errors.push(e.message),
      undefined,
      { checkEveryMs: 2, afterChecks: 3 },
    );
    c.start();
    await until(() => c.started);
    handles[0]!.healthy = false;
    await until(() => handles.length === 2 && c.started);
    expect(handles[0]!.stopped).toBe(true);
    expect(handles[1]!.stopped).toBe(false);
    expect(errors).toEqual(['consumer loop is not making progress; replacing it']);
    await c.stop();
    expect(handles[1]!.stopped).toBe(true);
  });

  it('leaves a healthy consumer alone', async () => {
    const { bus, handles } = fakeBus();
    const c = new BackgroundConsumer(
      bus,
      { groupId: 'g', topics: ['t'], eachBatch: async () => ({ outputs: [] }) },
      [],
      () => undefined,
      undefined,
      { checkEveryMs: 2, afterChecks: 3 },
    );
    c.start();
    await until(() => c.started);
    await new Promise((r) => setTimeout(r, 40));
    expect(handles).toHaveLength(1);
    await c.stop();
  });
});
