import { type DynamicModule, Module } from '@nestjs/common';
import { AttendanceFeatureModule } from '@zoom-pipeline/attendance-feature';
import { AttendanceStoreModule } from '@zoom-pipeline/attendance-store';
import { ConfigModule } from '@zoom-pipeline/config';
import { EventBusModule } from '@zoom-pipeline/event-bus';
import { type ServiceContext, ServiceKitModule } from '@zoom-pipeline/service-kit';

/**
 * zoom.events → attendance sessions and meeting summaries (+ PUT /attendance/registrants, GET
 * /attendance/meetings/:uuid).
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
        AttendanceFeatureModule,
      ],
    };
  }
}
