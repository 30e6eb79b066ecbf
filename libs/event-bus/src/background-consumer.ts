import type { ConsumeOptions, ConsumerHandle, EventBus, TopicSpec } from './event-bus.port';

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

  constructor(
    private readonly bus: EventBus,
    private readonly options: ConsumeOptions,
    private readonly topics: TopicSpec[],
    private readonly onError: (err: Error, attempt: number) => void,
    private readonly onStarted: () => void = () => undefined,
  ) {}

  start(): void {
    this.running ??= this.run();
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
    await this.running;
    await this.handle?.stop();
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
        await new Promise((r) => setTimeout(r, Math.min(30_000, 500 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random() / 2)));
      }
    }
  }
}
