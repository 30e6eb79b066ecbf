import '@zoom-pipeline/telemetry/register';
import { startBusConsumers } from '@zoom-pipeline/event-bus';
import { startService } from '@zoom-pipeline/service-kit';
import { ReconcilerAppModule } from './reconciler-app.module';

void startService('reconciler', (ctx) => ReconcilerAppModule.forRoot(ctx), {
  requireWebhookSecrets: false,
  beforeListen: startBusConsumers,
});
