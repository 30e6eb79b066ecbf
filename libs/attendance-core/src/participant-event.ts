import type { ParticipantFields } from '@zoom-pipeline/contracts';
import { parseLeaveReason } from './leave-reason';

/** Where a participant event happened. Waiting-room events are not attendance and are not parsed. */
export type Room = 'main' | 'breakout';

export type AttendanceInput = ParticipantInput | MeetingInput;

export interface MeetingInput {
  kind: 'started' | 'ended';
  meetingUuid: string;
  meetingId: string;
  at: number;
}

export interface ParticipantInput {
  kind: 'joined' | 'left';
  meetingUuid: string;
  meetingId: string;
  /** join_time / leave_time, epoch ms. */
  at: number;
  room: Room;
  breakoutRoomUuid?: string;
  participant: ParticipantFields;
  leaveReason?: string;
}

/** Zoom event names (`event`) this feature reads; meeting and webinar alike. */
const KINDS: Record<string, { kind: AttendanceInput['kind']; room?: Room }> = {
  'meeting.participant_joined': { kind: 'joined', room: 'main' },
  'meeting.participant_left': { kind: 'left', room: 'main' },
  'webinar.participant_joined': { kind: 'joined', room: 'main' },
  'webinar.participant_left': { kind: 'left', room: 'main' },
  'meeting.participant_joined_breakout_room': { kind: 'joined', room: 'breakout' },
  'meeting.participant_left_breakout_room': { kind: 'left', room: 'breakout' },
  'meeting.started': { kind: 'started' },
  'meeting.ended': { kind: 'ended' },
  'webinar.started': { kind: 'started' },
  'webinar.ended': { kind: 'ended' },
};

export const ATTENDANCE_EVENT_NAMES: readonly string[] = Object.keys(KINDS);

function s(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : typeof v === 'number' ? String(v) : undefined;
}

function time(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

/**
 * Reads one Zoom webhook body (`{event, payload: {object}}`, as `zoom.events` carries it in `data`). Returns null
 * for events that are not attendance or lack what pairing needs (meeting UUID, the join/leave time): those are
 * skipped, never retried, so one odd event cannot stop a meeting's partition.
 */
export function parseAttendanceInput(body: Record<string, unknown>): AttendanceInput | null {
  const name = s(body.event);
  const spec = name ? KINDS[name] : undefined;
  if (!spec) return null;
  const payload = body.payload as Record<string, unknown> | undefined;
  const object = payload?.object as Record<string, unknown> | undefined;
  if (!object || typeof object !== 'object') return null;
  const meetingUuid = s(object.uuid);
  if (!meetingUuid) return null;
  const meetingId = s(object.id) ?? '';
  if (spec.kind === 'started' || spec.kind === 'ended') {
    const at =
      time(spec.kind === 'started' ? object.start_time : object.end_time) ??
      (typeof body.event_ts === 'number' ? body.event_ts : undefined);
    return at === undefined ? null : { kind: spec.kind, meetingUuid, meetingId, at };
  }
  const p = object.participant as Record<string, unknown> | undefined;
  if (!p || typeof p !== 'object') return null;
  const at = time(spec.kind === 'joined' ? p.join_time : p.leave_time);
  if (at === undefined) return null;
  const email = s(p.email)?.toLowerCase();
  const participant: ParticipantFields = {};
  const put = (k: keyof ParticipantFields, v: string | undefined) => {
    if (v !== undefined) participant[k] = v;
  };
  put('participantUuid', s(p.participant_uuid));
  put('zoomUserId', s(p.id) ?? s(p.participant_user_id));
  put('registrantId', s(p.registrant_id));
  put('customerKey', s(p.customer_key));
  put('email', email);
  put('userId', s(p.user_id));
  put('userName', s(p.user_name));
  put('phoneNumber', s(p.phone_number));
  const reason = spec.kind === 'left' ? parseLeaveReason(s(p.leave_reason)) : undefined;
  return {
    kind: spec.kind,
    meetingUuid,
    meetingId,
    at,
    room: spec.room ?? 'main',
    ...(spec.room === 'breakout' && s(object.breakout_room_uuid)
      ? { breakoutRoomUuid: s(object.breakout_room_uuid) }
      : {}),
    participant,
    ...(reason ? { leaveReason: reason } : {}),
  };
}
