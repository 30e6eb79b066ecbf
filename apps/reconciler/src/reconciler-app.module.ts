import { type DynamicModule, Module } from '@nestjs/common';
import { ConfigModule } from '@zoom-pipeline/config';
import { DedupStoreModule } from '@zoom-pipeline/dedup-store';
import { EventBusModule } from '@zoom-pipeline/event-bus';
import { ObjectStoreModule } from '@zoom-pipeline/object-store';
import { ReconcileFeatureModule } from '@zoom-pipeline/reconcile-feature';
import { METRICS_REGISTRY, type ServiceContext, ServiceKitModule } from '@zoom-pipeline/service-kit';
import { ZoomApiModule } from '@zoom-pipeline/zoom-api';
import { S2S_TOKEN_SOURCE, ZoomDownloadModule } from '@zoom-pipeline/zoom-download';

/** The reconciler (one replica): Zoom's listing against the stored-files ledger, work items for what is missing. */
@Module({})
export class ReconcilerAppModule {
  static forRoot({ config, logger, registry }: ServiceContext): DynamicModule {
    return {
      module: ReconcilerAppModule,
      imports: [
        ConfigModule.forRoot(config),
        ServiceKitModule.forRoot({ logger, registry }),
        EventBusModule.forRoot(config.bus),
        DedupStoreModule.forRoot(config.dedupStore),
        // Read only: ZOOM_AFTER_UPLOAD=trash verifies the stored copy (HEAD) before trashing it in Zoom.
        ObjectStoreModule.forRoot(config.objectStore),
        // For its S2S token cache (S2S_TOKEN_SOURCE), the one the API client uses.
        ZoomDownloadModule.forRoot(config.download),
        ZoomApiModule.forRoot({
          baseUrl: config.reconcile.apiUrl,
          requestsPerSecond: config.reconcile.apiRequestsPerSecond,
          tokens: S2S_TOKEN_SOURCE,
          registry: METRICS_REGISTRY,
        }),
        ReconcileFeatureModule,
      ],
    };
  }
}
