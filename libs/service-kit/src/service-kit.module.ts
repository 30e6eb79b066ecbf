import { type DynamicModule, Global, Module } from '@nestjs/common';
import type { Logger } from '@zoom-pipeline/telemetry';
import type { Registry } from 'prom-client';
import { HealthController, HealthService } from './health';
import { METRICS_REGISTRY, MetricsController } from './metrics';

export const LOGGER = Symbol('LOGGER');

export interface ServiceKitOptions {
  logger: Logger;
  registry: Registry;
}

/** Health, metrics and the logger for every app (STYLE §3.12). Global: features inject what they use. */
@Global()
@Module({})
export class ServiceKitModule {
  static forRoot(options: ServiceKitOptions): DynamicModule {
    return {
      module: ServiceKitModule,
      controllers: [HealthController, MetricsController],
      providers: [
        HealthService,
        { provide: LOGGER, useValue: options.logger },
        { provide: METRICS_REGISTRY, useValue: options.registry },
      ],
      exports: [HealthService, LOGGER, METRICS_REGISTRY],
    };
  }
}
