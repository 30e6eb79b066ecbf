import '@zoom-pipeline/telemetry/register';
import { startBusConsumers } from '@zoom-pipeline/event-bus';
import { startService } from '@zoom-pipeline/service-kit';
import { StandaloneAppModule } from './standalone-app.module';

void startService('zoom-pipeline', (ctx) => StandaloneAppModule.forRoot(ctx), { beforeListen: startBusConsumers });
