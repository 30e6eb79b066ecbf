import { type DynamicModule, Module } from '@nestjs/common';
import { AccountLinkEventsModule, AccountsFeatureModule } from '@zoom-pipeline/accounts-feature';
import { AccountsStoreModule } from '@zoom-pipeline/accounts-store';
import { ConfigModule } from '@zoom-pipeline/config';
import { EventBusModule } from '@zoom-pipeline/event-bus';
import { type ServiceContext, ServiceKitModule } from '@zoom-pipeline/service-kit';

@Module({})
export class AccountsAppModule {
  static forRoot({ config, logger, registry }: ServiceContext): DynamicModule {
    return {
      module: AccountsAppModule,
      imports: [
        ConfigModule.forRoot(config),
        ServiceKitModule.forRoot({ logger, registry }),
        EventBusModule.forRoot(config.bus),
        AccountLinkEventsModule.forRoot(),
        AccountsStoreModule.forRoot({ accounts: config.accounts, store: config.dedupStore }),
        AccountsFeatureModule,
      ],
    };
  }
}
