import { type DynamicModule, Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { createEventBus, type EventBusConfig, type EventBusFactoryOptions } from './create-event-bus';
import { EVENT_BUS, type EventBus } from './event-bus.port';

/** Closes the bus when the application shuts down: flush queued publishes, commit, leave groups, disconnect. */
@Injectable()
export class EventBusShutdown implements OnApplicationShutdown {
  constructor(@Inject(EVENT_BUS) private readonly bus: EventBus) {}

  async onApplicationShutdown(): Promise<void> {
    await this.bus.close();
  }
}

@Module({})
export class EventBusModule {
  /** Global: every feature module injects EVENT_BUS without importing this module again. */
  static forRoot(config: EventBusConfig, options: EventBusFactoryOptions = {}): DynamicModule {
    return {
      module: EventBusModule,
      global: true,
      providers: [{ provide: EVENT_BUS, useFactory: () => createEventBus(config, options) }, EventBusShutdown],
      exports: [EVENT_BUS],
    };
  }
}
