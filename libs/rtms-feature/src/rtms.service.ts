import { type BeforeApplicationShutdown, Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { type AppConfig, CONFIG } from '@zoom-pipeline/config';
import { ContractViolation, decodeCanonicalEvent } from '@zoom-pipeline/contracts';
import { DEDUP_STORE, type DedupStore } from '@zoom-pipeline/dedup-store';
import { type BatchResult, EVENT_BUS, type EventBus, type HandlerBatch } from '@zoom-pipeline/event-bus';
import { OBJECT_STORE, type ObjectStore } from '@zoom-pipeline/object-store';
import { HealthService, LOGGER, METRICS_REGISTRY } from '@zoom-pipeline/service-kit';
import { type Logger } from '@zoom-pipeline/telemetry';
import type { Registry } from 'prom-client';
import { RtmsConnector } from './rtms-connector';
import { RtmsMetrics } from './rtms.metrics';
import { rtmsLifecycle } from './stream-event';

/**
 * Every rtms pod reads every canonical event (its own consumer group, see rtms.consumer.ts) and hands the RTMS
 * ones to the connector, which decides through the stream's lease which pod connects.
 */
@Injectable()
export class RtmsService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  readonly connector: RtmsConnector;

  constructor(
    @Inject(CONFIG) private readonly config: AppConfig,
    @Inject(DEDUP_STORE) private readonly store: DedupStore,
    @Inject(OBJECT_STORE) objects: ObjectStore,
    @Inject(EVENT_BUS) bus: EventBus,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS_REGISTRY) registry: Registry,
    private readonly health: HealthService,
  ) {
    this.connector = new RtmsConnector({
      settings: config.rtms,
      store,
      objects,
      bus,
      metrics: new RtmsMetrics(registry),
      logger,
    });
  }

  onApplicationBootstrap(): void {
    this.health.addReadiness({ name: 'dedup-store', check: () => this.store.isReady() });
    if (!this.config.rtms.credentials) {
      this.logger.warn(
        'rtms: no RTMS_CLIENT_ID/RTMS_CLIENT_SECRET (or ZOOM_CLIENT_ID/ZOOM_CLIENT_SECRET): streams are ' +
          'tracked but not connected',
      );
    }
    this.connector.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.connector.stop();
  }

  async handleBatch(batch: HandlerBatch): Promise<BatchResult> {
    for (const msg of batch.messages) {
      let event;
      try {
        event = decodeCanonicalEvent(msg.value);
      } catch (err) {
        // Not ours to dead-letter: zoom.events is validated by its producer; skip what we cannot read.
        if (err instanceof ContractViolation) continue;
        throw err;
      }
      const life = rtmsLifecycle(event);
      if (!life) continue;
      await batch.withRecord(msg, () =>
        life.kind === 'started'
          ? this.connector.onStarted(life.info)
          : this.connector.onStopped(life.streamId, life.stopReason),
      );
    }
    return { outputs: [] };
  }
}
