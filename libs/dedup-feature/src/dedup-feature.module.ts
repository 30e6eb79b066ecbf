import { Module } from '@nestjs/common';
import { DedupService } from './dedup.service';
import { RawDeliveryConsumer } from './raw-delivery.consumer';

/** Needs CONFIG, EVENT_BUS, DEDUP_STORE and the service kit from the app module; the app starts the bus transport. */
@Module({ controllers: [RawDeliveryConsumer], providers: [DedupService], exports: [DedupService] })
export class DedupFeatureModule {}
