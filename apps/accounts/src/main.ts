import '@zoom-pipeline/telemetry/register';
import { startBusConsumers } from '@zoom-pipeline/event-bus';
import { startService } from '@zoom-pipeline/service-kit';
import { AccountsAppModule } from './accounts-app.module';

void startService('accounts', (ctx) => AccountsAppModule.forRoot(ctx), {
  requireWebhookSecrets: false,
  requireAccounts: true,
  beforeListen: startBusConsumers,
});
