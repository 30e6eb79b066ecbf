/**
 * Values of `zoom.attendance.sessions` and `zoom.attendance.meetings` (key: meeting instance UUID), SPEC §
 * "Attendance". Produced by the attendance feature.
 */

import { encodeJson } from './validate';

/** Which identifier made two events the same person, strongest first (docs/ZOOM-FACTS.md, "Attendance"). */
export type IdentityKind = 'zoom_user' | 'registrant' | 'customer_key' | 'email' | 'participant' | 'user_id' | 'name';

export interface AttendanceIdentity {
  kind: IdentityKind;
  value: string;
}

/** What Zoom told us about the participant (empty strings dropped). */
export interface ParticipantFields {
  participantUuid?: string;
  zoomUserId?: string;
  registrantId?: string;
  customerKey?: string;
  email?: string;
  userId?: string;
  userName?: string;
  phoneNumber?: string;
}

export type SessionFlag =
  /** A leave with no join before it: the start is unknown, `seconds` is 0. */
  | 'join_missing'
  /** No leave before the meeting ended: closed at `meeting.ended`. */
  | 'leave_missing';

export interface AttendanceSession {
  v: 1;
  /** Stable across redeliveries and restarts: meeting UUID, pairing key and the session's times. */
  id: string;
  meetingUuid: string;
  meetingId: string;
  room: 'main' | 'breakout';
  breakoutRoomUuid?: string;
  identity: AttendanceIdentity;
  appUserId?: string;
  participant: ParticipantFields;
  /** ISO-8601; null when the join was never seen. */
  joinedAt: string | null;
  leftAt: string;
  seconds: number;
  /** The reason from Zoom's `leave_reason` text, HTML removed. */
  leaveReason?: string;
  flags: SessionFlag[];
}

export interface AttendancePerson {
  identity: AttendanceIdentity;
  appUserId?: string;
  userName?: string;
  /** Time present in the meeting or its breakout rooms, overlapping devices and rooms counted once. */
  totalSeconds: number;
  firstJoin: string | null;
  lastLeave: string;
  sessions: number;
  /** Times the person came back after being absent. */
  rejoins: number;
  flags: SessionFlag[];
}

/**
 * Summary of one meeting instance at its end, in parts of at most 1000 people (people sorted by identity across
 * the parts). The summary is whole once parts 1..`parts` of the meeting UUID are in; each part is emitted once, a
 * large end over several transactions (SPEC §11), with every session of the meeting at or before part 1.
 */
export interface AttendanceMeetingSummary {
  v: 1;
  meetingUuid: string;
  meetingId: string;
  startedAt?: string;
  endedAt: string;
  /** 1-based. */
  part: number;
  /** How many parts the summary has (at least 1, even with no people). */
  parts: number;
  people: AttendancePerson[];
}

export function encodeAttendanceSession(session: AttendanceSession): Buffer {
  return encodeJson(session);
}

export function encodeAttendanceMeetingSummary(summary: AttendanceMeetingSummary): Buffer {
  return encodeJson(summary);
}
