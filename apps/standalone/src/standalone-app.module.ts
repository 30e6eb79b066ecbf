import { type DynamicModule, Module } from '@nestjs/common';
import { ConfigModule } from '@zoom-pipeline/config';
import { DedupFeatureModule } from '@zoom-pipeline/dedup-feature';
import { DedupStoreModule } from '@zoom-pipeline/dedup-store';
import { EventBusModule } from '@zoom-pipeline/event-bus';
import { IngressFeatureModule } from '@zoom-pipeline/ingress-feature';
import { ObjectStoreModule } from '@zoom-pipeline/object-store';
import { ReconcileFeatureModule } from '@zoom-pipeline/reconcile-feature';
import { METRICS_REGISTRY, type ServiceContext, ServiceKitModule } from '@zoom-pipeline/service-kit';
import { UploaderFeatureModule } from '@zoom-pipeline/uploader-feature';
import { ZoomApiModule } from '@zoom-pipeline/zoom-api';
import { S2S_TOKEN_SOURCE, ZoomDownloadModule } from '@zoom-pipeline/zoom-download';

/**
 * The three services in one process, behind one port. Adapters come from the config: with no
 * KAFKA_BROKERS / REDIS_URL / S3_BUCKET they are the embedded ones under DATA_DIR (file log fsynced
 * before the 200, a dedup store that survives restarts, the filesystem object store).
 */
@Module({})
export class StandaloneAppModule {
  static forRoot({ config, logger, registry }: ServiceContext): DynamicModule {
    return {
      module: StandaloneAppModule,
      imports: [
        ConfigModule.forRoot(config),
        ServiceKitModule.forRoot({ logger, registry }),
        EventBusModule.forRoot(config.bus),
        DedupStoreModule.forRoot(config.dedupStore),
        ObjectStoreModule.forRoot(config.objectStore),
        ZoomDownloadModule.forRoot(config.download),
        IngressFeatureModule,
        DedupFeatureModule,
        UploaderFeatureModule,
        // The reconciler in-process: the downloader and the API share one S2S token cache.
        ZoomApiModule.forRoot({ baseUrl: config.reconcile.apiUrl, requestsPerSecond: config.reconcile.apiRequestsPerSecond, tokens: S2S_TOKEN_SOURCE, registry: METRICS_REGISTRY }),
        ReconcileFeatureModule,
      ],
    };
  }
}
