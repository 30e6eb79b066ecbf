import { Controller, Inject } from '@nestjs/common';
import { ATTENDANCE_STORE, type AttendanceStore } from '@zoom-pipeline/attendance-store';
import {
  type AttendanceMeetingSummary,
  type AttendanceSession,
  ContractViolation,
  TOPICS,
  parseAccountLinkEvent,
  topicSpec,
} from '@zoom-pipeline/contracts';
import { type BatchResult, BusHandler, type HandlerBatch } from '@zoom-pipeline/event-bus';

const parse = <T>(contract: string, v: Buffer): T => {
  try {
    return JSON.parse(v.toString('utf8')) as T;
  } catch {
    throw new ContractViolation(contract, '(value)', 'is not JSON');
  }
};

/**
 * The store's view of the outputs (for `GET /attendance/meetings/{uuid}`), written from the committed topics
 * (read_committed): upserts, so a redelivered batch writes the same again.
 */
@Controller()
export class AttendanceReadModelConsumers {
  constructor(@Inject(ATTENDANCE_STORE) private readonly store: AttendanceStore) {}

  @BusHandler(TOPICS.attendanceSessions, {
    name: 'attendance-sessions-view',
    groupId: 'zoom-pipeline-attendance-sessions-view',
    ensureTopics: [topicSpec(TOPICS.attendanceSessions)],
    maxBatchSize: 1000,
  })
  async sessions(batch: HandlerBatch): Promise<BatchResult> {
    await this.store.saveSessions(batch.messages.map((m) => parse<AttendanceSession>('AttendanceSession', m.value)));
    return { outputs: [] };
  }

  @BusHandler(TOPICS.attendanceMeetings, {
    name: 'attendance-meetings-view',
    groupId: 'zoom-pipeline-attendance-meetings-view',
    ensureTopics: [topicSpec(TOPICS.attendanceMeetings)],
    maxBatchSize: 100,
  })
  async meetings(batch: HandlerBatch): Promise<BatchResult> {
    await this.store.saveSummaries(
      batch.messages.map((m) => parse<AttendanceMeetingSummary>('AttendanceMeetingSummary', m.value)),
    );
    return { outputs: [] };
  }

  /** zoom.accounts.links (accounts feature): a linked Zoom user is attributed to its app user from then on. */
  @BusHandler(TOPICS.accountLinks, {
    name: 'attendance-links',
    groupId: 'zoom-pipeline-attendance-links',
    ensureTopics: [topicSpec(TOPICS.accountLinks)],
    maxBatchSize: 1000,
  })
  async links(batch: HandlerBatch): Promise<BatchResult> {
    for (const m of batch.messages) {
      if (m.value.length === 0) {
        if (m.key) await this.store.putLink(m.key, null); // tombstone
        continue;
      }
      const link = parseAccountLinkEvent(m.value); // a ContractViolation is dead-lettered by the transport
      await this.store.putLink(link.zoomUserId, link.status === 'linked' ? link.appUserId : null);
    }
    return { outputs: [] };
  }
}
