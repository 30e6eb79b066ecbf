import '@zoom-pipeline/telemetry/register';
import { startBusConsumers } from '@zoom-pipeline/event-bus';
import { startService } from '@zoom-pipeline/service-kit';
import { DedupAppModule } from './dedup-app.module';

void startService('dedup', (ctx) => DedupAppModule.forRoot(ctx), {
  requireWebhookSecrets: false,
  beforeListen: startBusConsumers,
});
