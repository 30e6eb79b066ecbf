import { Module } from '@nestjs/common';
import { AccountsController } from './accounts.controller';
import { AccountsService } from './accounts.service';
import { DeauthorizationConsumer } from './deauthorization.consumer';

/**
 * Needs CONFIG (with `accounts`), EVENT_BUS, the service kit, AccountsStoreModule and AccountLinkEventsModule from the
 * app module; the app starts the bus transport (the app_deauthorized consumer).
 */
@Module({
  controllers: [AccountsController, DeauthorizationConsumer],
  providers: [AccountsService],
  exports: [AccountsService],
})
export class AccountsFeatureModule {}
