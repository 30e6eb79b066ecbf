import { Module } from '@nestjs/common';
import { IngressService } from './ingress.service';
import { WebhookController } from './webhook.controller';

/** Needs CONFIG, EVENT_BUS and the service kit (LOGGER, METRICS_REGISTRY) from the app module. */
@Module({ controllers: [WebhookController], providers: [IngressService], exports: [IngressService] })
export class IngressFeatureModule {}
