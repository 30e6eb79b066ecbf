import { type DynamicModule, Module } from '@nestjs/common';
import { ConfigModule } from '@zoom-pipeline/config';
import { EventBusModule } from '@zoom-pipeline/event-bus';
import { IngressFeatureModule } from '@zoom-pipeline/ingress-feature';
import { type ServiceContext, ServiceKitModule } from '@zoom-pipeline/service-kit';

@Module({})
export class IngressAppModule {
  static forRoot({ config, logger, registry }: ServiceContext): DynamicModule {
    return {
      module: IngressAppModule,
      imports: [
        ConfigModule.forRoot(config),
        ServiceKitModule.forRoot({ logger, registry }),
        EventBusModule.forRoot(config.bus),
        IngressFeatureModule,
      ],
    };
  }
}
