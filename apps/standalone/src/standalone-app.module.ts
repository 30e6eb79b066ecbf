import { type DynamicModule, Module } from '@nestjs/common';
import { AttendanceFeatureModule } from '@zoom-pipeline/attendance-feature';
import { AttendanceStoreModule } from '@zoom-pipeline/attendance-store';
import { ConfigModule } from '@zoom-pipeline/config';
import { DedupFeatureModule } from '@zoom-pipeline/dedup-feature';
import { DedupStoreModule } from '@zoom-pipeline/dedup-store';
import { EventBusModule } from '@zoom-pipeline/event-bus';
import { IngressFeatureModule } from '@zoom-pipeline/ingress-feature';
import { ObjectStoreModule } from '@zoom-pipeline/object-store';
import { type ServiceContext, ServiceKitModule } from '@zoom-pipeline/service-kit';
import { UploaderFeatureModule } from '@zoom-pipeline/uploader-feature';
import { ZoomDownloadModule } from '@zoom-pipeline/zoom-download';

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
        AttendanceStoreModule.forRoot(config.attendance.store),
        AttendanceFeatureModule,
      ],
    };
  }
}
