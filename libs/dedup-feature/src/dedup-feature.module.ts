import { Module } from '@nestjs/common';
import { DedupService } from './dedup.service';

/** Needs CONFIG, EVENT_BUS, DEDUP_STORE and the service kit from the app module. */
@Module({ providers: [DedupService], exports: [DedupService] })
export class DedupFeatureModule {}
