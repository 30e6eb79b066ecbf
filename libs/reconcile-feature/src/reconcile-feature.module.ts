import { Module } from '@nestjs/common';
import { METRICS_REGISTRY } from '@zoom-pipeline/service-kit';
import type { Registry } from 'prom-client';
import { ReconcileController } from './reconcile.controller';
import { ReconcileMetrics } from './reconcile.metrics';
import { ReconcileService } from './reconcile.service';
import { RedriveService } from './redrive.service';
import { TrashService } from './trash.service';
import { UploadedLedgerConsumer } from './uploaded-ledger.consumer';

/**
 * Needs CONFIG, EVENT_BUS, DEDUP_STORE, ZOOM_API (zoom-api's ZoomApiModule), OBJECT_STORE (to verify a copy before
 * ZOOM_AFTER_UPLOAD=trash) and the service kit from the app module; the app starts the bus transport (the ledger
 * consumer is a declared handler).
 */
@Module({
  controllers: [ReconcileController, UploadedLedgerConsumer],
  providers: [
    {
      provide: ReconcileMetrics,
      inject: [METRICS_REGISTRY],
      useFactory: (registry: Registry) => new ReconcileMetrics(registry),
    },
    ReconcileService,
    RedriveService,
    TrashService,
  ],
  exports: [ReconcileService, RedriveService, TrashService],
})
export class ReconcileFeatureModule {}
