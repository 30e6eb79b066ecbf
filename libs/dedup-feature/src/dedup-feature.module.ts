import { Module } from '@nestjs/common';
import { type AppConfig, CONFIG } from '@zoom-pipeline/config';
import { type BusHandlerOptions } from '@zoom-pipeline/event-bus';
import { DedupService } from './dedup.service';
import { RAW_DELIVERY_CONSUMER_OPTIONS, RawDeliveryConsumer } from './raw-delivery.consumer';

/** Needs CONFIG, EVENT_BUS, DEDUP_STORE and the service kit from the app module; the app starts the bus transport. */
@Module({
  controllers: [RawDeliveryConsumer],
  providers: [
    {
      provide: RAW_DELIVERY_CONSUMER_OPTIONS,
      inject: [CONFIG],
      // The Kafka client carries the exactly-once path (KAFKA_CLIENT): worth one line at start-up.
      useFactory: (config: AppConfig): Partial<BusHandlerOptions> => ({
        startedFields: { kafkaClient: config.bus.kind === 'kafka' ? config.bus.client : undefined },
      }),
    },
    DedupService,
  ],
  exports: [DedupService],
})
export class DedupFeatureModule {}
