import { type DynamicModule, Module } from '@nestjs/common';
import { ConfigModule } from '@zoom-pipeline/config';
import { DedupStoreModule } from '@zoom-pipeline/dedup-store';
import { EventBusModule } from '@zoom-pipeline/event-bus';
import { ObjectStoreModule } from '@zoom-pipeline/object-store';
import { type ServiceContext, ServiceKitModule } from '@zoom-pipeline/service-kit';
import { UploaderFeatureModule } from '@zoom-pipeline/uploader-feature';
import { ZoomDownloadModule } from '@zoom-pipeline/zoom-download';

@Module({})
export class UploaderAppModule {
  static forRoot({ config, logger, registry }: ServiceContext): DynamicModule {
    return {
      module: UploaderAppModule,
      imports: [
        ConfigModule.forRoot(config),
        ServiceKitModule.forRoot({ logger, registry }),
        EventBusModule.forRoot(config.bus),
        DedupStoreModule.forRoot(config.dedupStore),
        ObjectStoreModule.forRoot(config.objectStore),
        ZoomDownloadModule.forRoot(config.download),
        UploaderFeatureModule,
      ],
    };
  }
}
