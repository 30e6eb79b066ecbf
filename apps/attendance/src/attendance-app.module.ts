import { type DynamicModule, Module } from '@nestjs/common';
import { AttendanceFeatureModule } from '@zoom-pipeline/attendance-feature';
import { AttendanceStoreModule } from '@zoom-pipeline/attendance-store';
import { ConfigModule } from '@zoom-pipeline/config';
import { EventBusModule } from '@zoom-pipeline/event-bus';
import { METRICS_REGISTRY, type ServiceContext, ServiceKitModule } from '@zoom-pipeline/service-kit';
import { ZoomApiModule } from '@zoom-pipeline/zoom-api';
import { S2S_TOKEN_SOURCE, ZoomDownloadModule } from '@zoom-pipeline/zoom-download';

/**
 * zoom.events → attendance sessions and meeting summaries (+ PUT /attendance/registrants, POST
 * /attendance/registrations, GET /attendance/meetings/:uuid).
 */
@Module({})
export class AttendanceAppModule {
  static forRoot({ config, logger, registry }: ServiceContext): DynamicModule {
    return {
      module: AttendanceAppModule,
      imports: [
        ConfigModule.forRoot(config),
        ServiceKitModule.forRoot({ logger, registry }),
        EventBusModule.forRoot(config.bus),
        AttendanceStoreModule.forRoot(config.attendance.store),
        // The S2S token cache (S2S_TOKEN_SOURCE) and the REST client behind POST /attendance/registrations.
        ZoomDownloadModule.forRoot(config.download),
        ZoomApiModule.forRoot({
          baseUrl: config.reconcile.apiUrl,
          requestsPerSecond: config.reconcile.apiRequestsPerSecond,
          tokens: S2S_TOKEN_SOURCE,
          registry: METRICS_REGISTRY,
        }),
        AttendanceFeatureModule,
      ],
    };
  }
}
