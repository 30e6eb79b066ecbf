import '@zoom-pipeline/telemetry/register';
import { startBusConsumers } from '@zoom-pipeline/event-bus';
import { startService } from '@zoom-pipeline/service-kit';
import { RtmsAppModule } from './rtms-app.module';

void startService('rtms', (ctx) => RtmsAppModule.forRoot(ctx), {
  requireWebhookSecrets: false,
  beforeListen: startBusConsumers,
});
