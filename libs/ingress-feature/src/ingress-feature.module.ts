import { Module } from '@nestjs/common';
import { IngressService } from './ingress.service';
import { WebhookRoutes } from './webhook.routes';

/** Needs CONFIG, EVENT_BUS and the service kit (LOGGER, METRICS_REGISTRY) from the app module. */
@Module({ providers: [IngressService, WebhookRoutes], exports: [IngressService] })
export class IngressFeatureModule {}
