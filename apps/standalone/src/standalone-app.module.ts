import { type DynamicModule, Module } from '@nestjs/common';
import { AccountsStoreModule, LINKED_ACCOUNTS } from '@zoom-pipeline/accounts-store';
import { AccountLinkEventsModule, AccountsFeatureModule } from '@zoom-pipeline/accounts-feature';
import { AttendanceFeatureModule } from '@zoom-pipeline/attendance-feature';
import { AttendanceStoreModule } from '@zoom-pipeline/attendance-store';
import { ConfigModule } from '@zoom-pipeline/config';
import { DedupFeatureModule } from '@zoom-pipeline/dedup-feature';
import { DedupStoreModule } from '@zoom-pipeline/dedup-store';
import { EventBusModule } from '@zoom-pipeline/event-bus';
import { IngressFeatureModule } from '@zoom-pipeline/ingress-feature';
import { ObjectStoreModule } from '@zoom-pipeline/object-store';
import { ReconcileFeatureModule } from '@zoom-pipeline/reconcile-feature';
import { RtmsFeatureModule } from '@zoom-pipeline/rtms-feature';
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
        AccountsStoreModule.forRoot({ accounts: config.accounts, store: config.dedupStore }),
        ObjectStoreModule.forRoot(config.objectStore),
        ZoomDownloadModule.forRoot(config.download, { userAccessTokens: LINKED_ACCOUNTS }),
        IngressFeatureModule,
        DedupFeatureModule,
        UploaderFeatureModule,
        // The accounts feature (issue #16) when ACCOUNTS_ENCRYPTION_KEY is set.
        ...(config.accounts ? [AccountLinkEventsModule.forRoot(), AccountsFeatureModule] : []),
        // The RTMS connector when credentials to sign its handshakes are set (it reads every zoom.events record).
        ...(config.rtms.credentials ? [RtmsFeatureModule] : []),
        // The reconciler in-process: the downloader and the API share one S2S token cache.
        ZoomApiModule.forRoot({
          baseUrl: config.reconcile.apiUrl,
          requestsPerSecond: config.reconcile.apiRequestsPerSecond,
          tokens: S2S_TOKEN_SOURCE,
          registry: METRICS_REGISTRY,
        }),
        ReconcileFeatureModule,
        AttendanceStoreModule.forRoot(config.attendance.store),
        AttendanceFeatureModule,
      ],
    };
  }
}
