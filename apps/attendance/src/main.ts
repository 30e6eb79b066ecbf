import '@zoom-pipeline/telemetry/register';
import { startBusConsumers } from '@zoom-pipeline/event-bus';
import { startService } from '@zoom-pipeline/service-kit';
import { AttendanceAppModule } from './attendance-app.module';

void startService('attendance', (ctx) => AttendanceAppModule.forRoot(ctx), {
  requireWebhookSecrets: false,
  beforeListen: startBusConsumers,
});
