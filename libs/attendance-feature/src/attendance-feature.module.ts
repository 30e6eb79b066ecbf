import { Module } from '@nestjs/common';
import { AttendanceController } from './attendance.controller';
import { AttendanceService } from './attendance.service';
import { AttendanceReadModelConsumers } from './read-model.consumers';
import { ATTENDANCE_CONSUMER_OPTIONS, ZoomEventsAttendanceConsumer } from './zoom-events.consumer';

/** Needs EVENT_BUS, ATTENDANCE_STORE and the service kit from the app module; the app starts the bus transport. */
@Module({
  controllers: [ZoomEventsAttendanceConsumer, AttendanceReadModelConsumers, AttendanceController],
  providers: [AttendanceService, { provide: ATTENDANCE_CONSUMER_OPTIONS, useValue: {} }],
  exports: [AttendanceService],
})
export class AttendanceFeatureModule {}
