import '@zoom-pipeline/telemetry/register';
import { startService } from '@zoom-pipeline/service-kit';
import { StandaloneAppModule } from './standalone-app.module';

void startService('zoom-pipeline', (ctx) => StandaloneAppModule.forRoot(ctx));
