import { backoffDelay, sleep } from '@zoom-pipeline/async-kit';
import type { ConsumeOptions, ConsumerHandle, EventBus, TopicSpec } from './event-bus.port';

/** Between tries to (re)start a consumer: 500 ms doubling to 30 s. */
const START_BACKOFF = { initialMs: 500, maxMs: 30_000 };

/**
 * Starts a consumer without blocking the app's start-up. Joining a group can take a full session timeout
 * (a SIGKILLed member's partitions are only handed over after it), and a broker may be down at start:
 * the HTTP server, /healthz and /readyz must answer meanwhile, so Kubernetes does not restart a pod that
 * is only waiting. Retries with capped exponential backoff until it is running or stopped.
 */
export class BackgroundConsumer {
  private handle?: ConsumerHandle;
  private stopped = false;
  private running?: Promise<void>;
  private watchdog?: NodeJS.Timeout;
  private unhealthyChecks = 0;

  constructor(
    private readonly bus: EventBus,
    private readonly options: ConsumeOptions,
    private readonly topics: TopicSpec[],
    private readonly onError: (err: Error, attempt: number) => void,
    private readonly onStarted: () => void = () => undefined,
    private readonly restart: { checkEveryMs: number; afterChecks: number } = { checkEveryMs: 2_000, afterChecks: 3 },
  ) {}

  start(): void {
    this.running ??= this.run();
    // A consumer whose loop died (a client whose fetch stream ended when a partition leader crashed) is
    // replaced in-process, as a liveness restart would, without losing the process's other work.
    this.watchdog ??= setInterval(() => void this.check(), this.restart.checkEveryMs);
    this.watchdog.unref();
  }

  /** True once the consumer joined its group. */
  get started(): boolean {
    return this.handle !== undefined;
  }

  isHealthy(): boolean {
    return this.handle?.isHealthy() ?? true;
  }

  async lag(): Promise<Array<{ topic: string; partition: number; lag: number }>> {
    return this.handle ? this.handle.lag() : [];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.watchdog);
    await this.running;
    await this.handle?.stop();
  }

  private async check(): Promise<void> {
    const handle = this.handle;
    if (this.stopped || !handle) return;
    this.unhealthyChecks = handle.isHealthy() ? 0 : this.unhealthyChecks + 1;
    if (this.unhealthyChecks < this.restart.afterChecks) return;
    this.unhealthyChecks = 0;
    this.handle = undefined;
    this.onError(new Error('consumer loop is not making progress; replacing it'), 0);
    await handle.stop().catch(() => undefined);
    if (this.stopped) return;
    await this.running;
    this.running = this.run();
  }

  private async run(): Promise<void> {
    for (let attempt = 1; !this.stopped; attempt++) {
      try {
        if (this.topics.length > 0) await this.bus.ensureTopics(this.topics);
        const handle = await this.bus.consume(this.options);
        if (this.stopped) {
          await handle.stop();
          return;
        }
        this.handle = handle;
        this.onStarted();
        return;
      } catch (err) {
        this.onError(err as Error, attempt);
        await sleep(backoffDelay(attempt + 1, START_BACKOFF));
      }
    }
  }
}
