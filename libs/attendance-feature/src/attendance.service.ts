import { Inject, Injectable, Optional } from '@nestjs/common';
import {
  type AppUserMaps,
  DEFAULT_END_STEP_BYTES,
  type MeetingOutputs,
  MeetingTracker,
  type TrackerOptions,
  parseAttendanceInput,
  resolveAppUser,
} from '@zoom-pipeline/attendance-core';
import { ATTENDANCE_STORE, type AttendanceStore } from '@zoom-pipeline/attendance-store';
import {
  HEADERS,
  type ParticipantFields,
  TOPICS,
  decodeCanonicalEvent,
  encodeAttendanceMeetingSummary,
  encodeAttendanceSession,
} from '@zoom-pipeline/contracts';
import {
  type BatchResult,
  EVENT_BUS,
  type EventBus,
  type HandlerBatch,
  type OutgoingMessage,
} from '@zoom-pipeline/event-bus';
import { LOGGER, METRICS_REGISTRY } from '@zoom-pipeline/service-kit';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from '@zoom-pipeline/telemetry';
import { type PartitionState, deviceRecord, headerRecord, progressRecord, readChangelog } from './attendance-state';

export const ATTENDANCE_GROUP_ID = 'zoom-pipeline-attendance';
export const ATTENDANCE_TRACKER_OPTIONS = Symbol('ATTENDANCE_TRACKER_OPTIONS');

const json = { [HEADERS.contentType]: 'application/json' };

/**
 * zoom.events → zoom.attendance.sessions / zoom.attendance.meetings, with the state changelog in the same
 * transaction (attendance-state.ts). In memory: the state per zoom.events partition, the last offset applied and
 * the ownership (`Batch.assignment`) it was applied under. The memory is used only for the next batch of the same
 * ownership that starts after that offset (offsets have gaps: transaction markers); anything else (first batch,
 * a partition that moved or came back, a redelivery after a lost commit) restores the committed state from the
 * changelog first, so state and outputs never diverge, whatever was killed when.
 */
@Injectable()
export class AttendanceService {
  private readonly parts = new Map<number, PartitionState>();
  private restoring: Promise<Map<number, PartitionState>> | null = null;
  readonly stats = { restores: 0, events: 0, sessions: 0, endSteps: 0 };
  private readonly metrics: { events: Counter; sessions: Counter; summaries: Counter; restores: Counter } | undefined;

  constructor(
    @Inject(EVENT_BUS) private readonly bus: EventBus,
    @Inject(ATTENDANCE_STORE) private readonly store: AttendanceStore,
    @Inject(LOGGER) private readonly logger: Logger,
    @Optional() @Inject(ATTENDANCE_TRACKER_OPTIONS) private readonly trackerOptions: TrackerOptions = {},
    @Optional() @Inject(METRICS_REGISTRY) registry?: Registry,
  ) {
    this.metrics = registry && {
      events: new Counter({
        name: 'zoom_attendance_events_total',
        help: 'Participant and meeting events applied (a redelivered batch counts again)',
        registers: [registry],
      }),
      sessions: new Counter({
        name: 'zoom_attendance_sessions_total',
        help: 'Sessions handed to zoom.attendance.sessions (committed or not)',
        registers: [registry],
      }),
      summaries: new Counter({
        name: 'zoom_attendance_summaries_total',
        help: 'Meeting summary parts handed to zoom.attendance.meetings',
        registers: [registry],
      }),
      restores: new Counter({
        name: 'zoom_attendance_state_restores_total',
        help: 'State restores from the changelog (start, a moved partition, a lost commit)',
        registers: [registry],
      }),
    };
  }

  async handleBatch(batch: HandlerBatch): Promise<BatchResult> {
    const p = batch.partition;
    const first = batch.messages[0].offset;
    const part = await this.stateAt(batch.topic, p, first, batch.assignment, () => batch.isActive());
    const touched = new Set<MeetingTracker>();
    const outputs: OutgoingMessage[] = [];
    // A meeting's end goes out in steps of bounded size: while it is not fully out, the batch stops before its
    // `meeting.ended` record, so that record comes again (next batch, or after a restore) for the next step.
    const endBudget = this.trackerOptions.endStepBytes ?? DEFAULT_END_STEP_BYTES;
    let endBytes = 0;
    let through = batch.messages[batch.messages.length - 1].offset;
    for (const [i, msg] of batch.messages.entries()) {
      let input;
      try {
        input = parseAttendanceInput(decodeCanonicalEvent(msg.value).data);
      } catch {
        continue; // not a canonical event: the dedup's contract guards zoom.events; nothing to pair here
      }
      if (!input) continue;
      let t = part.meetings.get(input.meetingUuid);
      const ending = input.kind === 'ended' && !t?.header.closed;
      if (ending && endBytes >= endBudget) {
        through = i > 0 ? batch.messages[i - 1].offset : (BigInt(first) - 1n).toString();
        break;
      }
      this.stats.events++;
      this.metrics?.events.inc();
      if (!t)
        part.meetings.set(
          input.meetingUuid,
          (t = MeetingTracker.create(input.meetingUuid, input.meetingId, this.trackerOptions)),
        );
      t.apply(input);
      touched.add(t);
      if (!ending) continue;
      const maps = await this.appUserMaps(t.header.meetingId, t.candidates());
      const step = t.flushEnd((f) => resolveAppUser(f, maps), endBudget - endBytes);
      endBytes += step.bytes;
      this.stats.endSteps++;
      this.emitted(outputs, t.header.meetingUuid, step);
      if (!step.done) {
        through = i > 0 ? batch.messages[i - 1].offset : (BigInt(first) - 1n).toString();
        break;
      }
    }
    for (const t of touched) {
      // An ended meeting's outputs went out in its end step above.
      if (!t.ended) {
        const maps = await this.appUserMaps(t.header.meetingId, t.candidates());
        this.emitted(
          outputs,
          t.header.meetingUuid,
          t.flush((f) => resolveAppUser(f, maps)),
        );
      }
      const dirty = t.takeDirty();
      if (dirty.header) outputs.push(headerRecord(batch.topic, p, dirty.header));
      for (const [pk, d] of dirty.devices) outputs.push(deviceRecord(batch.topic, p, t.header.meetingUuid, pk, d));
    }
    outputs.push(progressRecord(batch.topic, p, through));
    part.last = through;
    part.assignment = batch.assignment;
    const last = batch.messages[batch.messages.length - 1].offset;
    return through === last ? { outputs } : { outputs, commitThrough: through };
  }

  private emitted(outputs: OutgoingMessage[], uuid: string, out: MeetingOutputs): void {
    for (const s of out.sessions)
      outputs.push({
        topic: TOPICS.attendanceSessions,
        key: uuid,
        value: encodeAttendanceSession(s),
        headers: json,
      });
    for (const s of out.summaries)
      outputs.push({
        topic: TOPICS.attendanceMeetings,
        key: uuid,
        value: encodeAttendanceMeetingSummary(s),
        headers: json,
      });
    this.stats.sessions += out.sessions.length;
    this.metrics?.sessions.inc(out.sessions.length);
    this.metrics?.summaries.inc(out.summaries.length);
  }

  /** The partition's state just before offset `first`: memory when provably current, else the changelog. */
  private async stateAt(
    source: string,
    p: number,
    first: string,
    assignment: string | undefined,
    isActive: () => boolean,
  ): Promise<PartitionState> {
    const mine = this.parts.get(p);
    if (mine?.last !== undefined) {
      const f = BigInt(first);
      const l = BigInt(mine.last);
      // Same ownership and past what was applied: nobody else can have committed in between (gaps are markers).
      // Without an assignment from the bus only the very next offset proves it.
      if (assignment !== undefined ? mine.assignment === assignment && f > l : f === l + 1n) return mine;
    }
    for (let attempt = 1; ; attempt++) {
      const restored = await this.restore(source, isActive);
      const state = restored.get(p) ?? { last: undefined, meetings: new Map() };
      // The committed state covers offsets up to `last`; the batch was fetched from the committed position after it.
      if (state.last === undefined || BigInt(state.last) < BigInt(first)) {
        this.parts.set(p, state);
        for (const [q, s] of restored) if (!this.parts.has(q)) this.parts.set(q, s);
        return state;
      }
      // The changelog is ahead of the batch (cannot happen while outputs and offsets commit together): read again.
      if (attempt >= 3)
        throw new Error(
          `attendance state of zoom.events partition ${p} is as of offset ${state.last}, the batch starts at ${first}`,
        );
      this.logger.warn(
        { partition: p, stateAt: state.last, batchAt: first, attempt },
        'attendance: changelog ahead of the batch; restoring again',
      );
    }
  }

  /** One restore at a time; concurrent partitions share it. */
  private restore(source: string, isActive: () => boolean): Promise<Map<number, PartitionState>> {
    if (!this.restoring) {
      this.stats.restores++;
      this.metrics?.restores.inc();
      const started = Date.now();
      this.restoring = readChangelog({
        bus: this.bus,
        source,
        groupPrefix: ATTENDANCE_GROUP_ID,
        tracker: this.trackerOptions,
        isActive,
      })
        .then((parts) => {
          this.logger.info(
            { meetings: [...parts.values()].reduce((n, s) => n + s.meetings.size, 0), ms: Date.now() - started },
            'attendance: state restored from the changelog',
          );
          return parts;
        })
        .finally(() => {
          this.restoring = null;
        });
    }
    return this.restoring;
  }

  private async appUserMaps(meetingId: string, candidates: ParticipantFields[]): Promise<AppUserMaps> {
    if (candidates.length === 0) return { links: new Map(), registrations: new Map() };
    const zoomUserIds = new Set<string>();
    const fields = new Set<string>();
    for (const f of candidates) {
      if (f.zoomUserId) zoomUserIds.add(f.zoomUserId);
      if (f.registrantId) fields.add(`r:${f.registrantId}`);
      if (f.customerKey) fields.add(`c:${f.customerKey}`);
      if (f.email) fields.add(`e:${f.email.toLowerCase()}`);
    }
    const [links, registrations] = await Promise.all([
      this.store.links([...zoomUserIds]),
      this.store.registrations(meetingId, [...fields]),
    ]);
    return { links, registrations };
  }
}
