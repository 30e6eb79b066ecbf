import { Module } from '@nestjs/common';
import type { TrackerOptions } from '@zoom-pipeline/attendance-core';
import { type AppConfig, CONFIG } from '@zoom-pipeline/config';
import { type BusHandlerOptions } from '@zoom-pipeline/event-bus';
import { AttendanceController } from './attendance.controller';
import { AttendanceRegistrar } from './attendance-registrar';
import { ATTENDANCE_TRACKER_OPTIONS, AttendanceService } from './attendance.service';
import { AttendanceReadModelConsumers } from './read-model.consumers';
import { ATTENDANCE_CONSUMER_OPTIONS, ZoomEventsAttendanceConsumer } from './zoom-events.consumer';

/**
 * Needs CONFIG, EVENT_BUS, ATTENDANCE_STORE and the service kit from the app module, and ZOOM_API (libs/zoom-api;
 * undefined without S2S credentials) for `POST /attendance/registrations`; the app starts the bus transport.
 */
@Module({
  controllers: [ZoomEventsAttendanceConsumer, AttendanceReadModelConsumers, AttendanceController],
  providers: [
    AttendanceService,
    AttendanceRegistrar,
    {
      provide: ATTENDANCE_TRACKER_OPTIONS,
      inject: [CONFIG],
      useFactory: (config: AppConfig): TrackerOptions => ({
        graceMs: config.attendance.graceMs,
        endStepBytes: config.attendance.endStepBytes,
      }),
    },
    {
      provide: ATTENDANCE_CONSUMER_OPTIONS,
      inject: [CONFIG],
      useFactory: (config: AppConfig): Partial<BusHandlerOptions> => ({
        startedFields: { graceMs: config.attendance.graceMs, endStepBytes: config.attendance.endStepBytes },
      }),
    },
  ],
  exports: [AttendanceService],
})
export class AttendanceFeatureModule {}
