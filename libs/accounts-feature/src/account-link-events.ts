import { type DynamicModule, Global, Inject, Injectable, Module } from '@nestjs/common';
import { ACCOUNT_LINK_EVENTS, type AccountLinkEventSink } from '@zoom-pipeline/accounts-store';
import { type AccountLinkEvent, HEADERS, TOPICS, encodeAccountLinkEvent, topicSpec } from '@zoom-pipeline/contracts';
import { EVENT_BUS, type EventBus } from '@zoom-pipeline/event-bus';

/** Publishes link changes made outside a consumer (confirm, unlink, a refused refresh) on `zoom.accounts.links`. */
@Injectable()
export class BusAccountLinkEvents implements AccountLinkEventSink {
  private topicReady: Promise<void> | undefined;

  constructor(@Inject(EVENT_BUS) private readonly bus: EventBus) {}

  async publish(event: AccountLinkEvent): Promise<void> {
    this.topicReady ??= this.bus.ensureTopics([topicSpec(TOPICS.accountLinks)]).catch((err: unknown) => {
      this.topicReady = undefined;
      throw err;
    });
    await this.topicReady;
    await this.bus.publish([
      {
        topic: TOPICS.accountLinks,
        key: event.zoomUserId,
        value: encodeAccountLinkEvent(event),
        headers: { [HEADERS.contentType]: 'application/json' },
      },
    ]);
  }
}

/**
 * ACCOUNT_LINK_EVENTS for every module (the token provider in accounts-store marks refused refreshes with it). Needs
 * EVENT_BUS.
 */
@Global()
@Module({})
export class AccountLinkEventsModule {
  static forRoot(): DynamicModule {
    return {
      module: AccountLinkEventsModule,
      providers: [{ provide: ACCOUNT_LINK_EVENTS, useClass: BusAccountLinkEvents }],
      exports: [ACCOUNT_LINK_EVENTS],
    };
  }
}
