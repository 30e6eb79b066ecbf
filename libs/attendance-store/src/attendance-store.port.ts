import type { AttendanceMeetingSummary, AttendanceSession } from '@zoom-pipeline/contracts';

/** One entry of the registration map the product fills (`PUT /attendance/registrants`). */
export interface Registration {
  /** Zoom's numeric meeting id (registrations belong to a meeting, not to one instance). */
  meetingId: string;
  kind: 'registrant' | 'customer_key' | 'email';
  value: string;
  appUserId: string;
}

/** What `GET /attendance/meetings/{uuid}` shows: sessions emitted so far, and the summary once the meeting ended. */
export interface MeetingView {
  meetingUuid: string;
  sessions: AttendanceSession[];
  summary: AttendanceMeetingSummary[];
}

/**
 * Registration map, linked Zoom users, and the read model of attendance outputs. Adapters: Redis (cluster),
 * embedded (standalone, an fsynced append-only log under DATA_DIR), memory (unit tests); one contract suite.
 * Every write is an idempotent upsert, so replaying the outputs topics rebuilds the same view.
 */
export interface AttendanceStore {
  putRegistration(r: Registration): Promise<void>;
  /**
   * The meeting's registrations keyed `r:<registrant_id>`, `c:<customer_key>`, `e:<email lower case>`; only
   * those `fields` when given (the attendance consumer asks for the people it is about to emit).
   */
  registrations(meetingId: string, fields?: readonly string[]): Promise<Map<string, string>>;
  /** `appUserId` null removes the link (revoked, needs re-authorisation). */
  putLink(zoomUserId: string, appUserId: string | null): Promise<void>;
  /** Linked app users of these Zoom users (absent when not linked). */
  links(zoomUserIds: readonly string[]): Promise<Map<string, string>>;
  saveSessions(sessions: readonly AttendanceSession[]): Promise<void>;
  saveSummaries(parts: readonly AttendanceMeetingSummary[]): Promise<void>;
  meeting(meetingUuid: string): Promise<MeetingView | null>;
  isReady(): Promise<boolean>;
  close(): Promise<void>;
}

export const ATTENDANCE_STORE = Symbol('ATTENDANCE_STORE');

export function registrationField(kind: Registration['kind'], value: string): string {
  return kind === 'registrant' ? `r:${value}` : kind === 'customer_key' ? `c:${value}` : `e:${value.toLowerCase()}`;
}

export class AttendanceStoreUnavailableError extends Error {
  readonly code = 'attendance_store_unavailable';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AttendanceStoreUnavailableError';
  }
}
