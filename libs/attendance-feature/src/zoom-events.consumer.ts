import { Controller } from '@nestjs/common';
import { DEFAULT_PARTITIONS, TOPICS, topicSpec } from '@zoom-pipeline/contracts';
import { type BatchResult, BusHandler, type HandlerBatch } from '@zoom-pipeline/event-bus';
import { ATTENDANCE_GROUP_ID, AttendanceService } from './attendance.service';

export const ATTENDANCE_CONSUMER_OPTIONS = Symbol('ATTENDANCE_CONSUMER_OPTIONS');

/** zoom.events → zoom.attendance.sessions, zoom.attendance.meetings (+ the state changelog, one transaction). */
@Controller()
export class ZoomEventsAttendanceConsumer {
  constructor(private readonly attendance: AttendanceService) {}

  @BusHandler(TOPICS.events, {
    name: 'attendance',
    groupId: ATTENDANCE_GROUP_ID,
    ensureTopics: [TOPICS.events, TOPICS.attendanceSessions, TOPICS.attendanceMeetings, TOPICS.attendanceState].map(
      topicSpec,
    ),
    maxBatchSize: 500,
    concurrentPartitions: DEFAULT_PARTITIONS[TOPICS.events],
    overrides: ATTENDANCE_CONSUMER_OPTIONS,
  })
  handle(batch: HandlerBatch): Promise<BatchResult> {
    return this.attendance.handleBatch(batch);
  }
}
