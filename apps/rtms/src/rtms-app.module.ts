import { type DynamicModule, Module } from '@nestjs/common';
import { ConfigModule } from '@zoom-pipeline/config';
import { DedupStoreModule } from '@zoom-pipeline/dedup-store';
import { EventBusModule } from '@zoom-pipeline/event-bus';
import { ObjectStoreModule } from '@zoom-pipeline/object-store';
import { RtmsFeatureModule } from '@zoom-pipeline/rtms-feature';
import { type ServiceContext, ServiceKitModule } from '@zoom-pipeline/service-kit';

@Module({})
export class RtmsAppModule {
  static forRoot({ config, logger, registry }: ServiceContext): DynamicModule {
    return {
      module: RtmsAppModule,
      imports: [
        ConfigModule.forRoot(config),
        ServiceKitModule.forRoot({ logger, registry }),
        EventBusModule.forRoot(config.bus),
        DedupStoreModule.forRoot(config.dedupStore),
        ObjectStoreModule.forRoot(config.objectStore),
        RtmsFeatureModule,
      ],
    };
  }
}
