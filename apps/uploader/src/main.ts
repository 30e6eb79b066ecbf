import '@zoom-pipeline/telemetry/register';
import { startBusConsumers } from '@zoom-pipeline/event-bus';
import { startService } from '@zoom-pipeline/service-kit';
import { UploaderAppModule } from './uploader-app.module';

void startService('uploader', (ctx) => UploaderAppModule.forRoot(ctx), {
  requireWebhookSecrets: false,
  beforeListen: startBusConsumers,
});
