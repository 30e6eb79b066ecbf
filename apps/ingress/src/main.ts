import '@zoom-pipeline/telemetry/register';
import { startService } from '@zoom-pipeline/service-kit';
import { IngressAppModule } from './ingress-app.module';

void startService('ingress', (ctx) => IngressAppModule.forRoot(ctx));
