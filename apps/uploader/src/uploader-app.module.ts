import { type DynamicModule, Module } from '@nestjs/common';
import { AccountLinkEventsModule } from '@zoom-pipeline/accounts-feature';
import { AccountsStoreModule, LINKED_ACCOUNTS } from '@zoom-pipeline/accounts-store';
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
        AccountsStoreModule.forRoot({ accounts: config.accounts, store: config.dedupStore }),
        ObjectStoreModule.forRoot(config.objectStore),
        ZoomDownloadModule.forRoot(config.download, { userAccessTokens: LINKED_ACCOUNTS }),
        UploaderFeatureModule,
        // A refresh Zoom refuses here marks the link needs_reauth and says so on zoom.accounts.links.
        ...(config.accounts ? [AccountLinkEventsModule.forRoot()] : []),
      ],
    };
  }
}
