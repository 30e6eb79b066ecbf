import { type DynamicModule, Module } from '@nestjs/common';
import { AccountsStoreModule } from '@zoom-pipeline/accounts-store';
import { ConfigModule } from '@zoom-pipeline/config';
import { DedupFeatureModule } from '@zoom-pipeline/dedup-feature';
import { DedupStoreModule } from '@zoom-pipeline/dedup-store';
import { EventBusModule } from '@zoom-pipeline/event-bus';
import { type ServiceContext, ServiceKitModule } from '@zoom-pipeline/service-kit';

@Module({})
export class DedupAppModule {
  static forRoot({ config, logger, registry }: ServiceContext): DynamicModule {
    return {
      module: DedupAppModule,
      imports: [
        ConfigModule.forRoot(config),
        ServiceKitModule.forRoot({ logger, registry }),
        EventBusModule.forRoot(config.bus),
        DedupStoreModule.forRoot(config.dedupStore),
        AccountsStoreModule.forRoot({ accounts: config.accounts, store: config.dedupStore }),
        DedupFeatureModule,
      ],
    };
  }
}
