import type {
  AttendanceIdentity,
  AttendanceMeetingSummary,
  AttendancePerson,
  AttendanceSession,
  ParticipantFields,
  SessionFlag,
} from '@zoom-pipeline/contracts';
import type { AttendanceInput, Room } from './participant-event';

/**
 * Pairs joins and leaves into sessions. Pure: no I/O, no clock (event times only), deterministic, so the same
 * events give the same outputs in any process and after any restart.
 *
 * - Pairing key (which join a leave closes): participant_uuid, then the Zoom user id, registrant_id,
 *   customer_key, email, and only then the per-meeting user_id (docs/ZOOM-FACTS.md, "Attendance").
 * - Person (whose time it is): the Zoom user id, registrant_id, customer_key, email; a guest with none of them
 *   is the participant (participant_uuid, else user_id): a guest who rejoins without ids cannot be linked.
 * - Events of one key are ordered by their own times, not arrival: a session is emitted once the meeting's
 *   event time has passed its leave by `graceMs` (late, reordered events still pair), or at `meeting.ended`.
 */

/** One join or leave of a pairing key, at its Zoom time. */
export interface Mark {
  t: number;
  k: 'J' | 'L';
  /** leave reason */
  r?: string;
}

/** State of one pairing key in one meeting (one changelog record). */
export interface DeviceState {
  pk: string;
  room: Room;
  br?: string;
  /** Every identifying field seen on this key's events (first non-empty value wins). */
  f: ParticipantFields;
  /** Marks not yet emitted, sorted by (t, J before L). */
  marks: Mark[];
  /** Sessions ending at or before this time were emitted; marks before it are late and ignored. */
  floor?: number;
  /** Emitted sessions [join|null, leave, flags] for the meeting summary. */
  done: Array<[number | null, number, SessionFlag[]]>;
}

export interface MeetingHeader {
  meetingUuid: string;
  meetingId: string;
  startedAt?: number;
  endedAt?: number;
  /** Latest event time seen in this meeting. */
  watermark: number;
  /** Events ignored because they came after their session or the meeting was closed. */
  late: number;
  /**
   * Present once the end started (`flushEnd`): devices' remaining sessions go out in pairing-key order (a device
   * whose marks are empty is done), then the summary; `parts` summary parts were emitted so far.
   */
  end?: { parts: number };
  /** Set once the end's sessions and summary were emitted: nothing more is ever emitted for this meeting. */
  closed?: true;
}

/** Resolves app users for a person's fields (attendance-feature fills it from the registration map and links). */
export type AppUserLookup = (fields: ParticipantFields, meetingId: string) => string | undefined;

export interface TrackerOptions {
  /** How far (event time) the meeting must have moved past a leave before its session is final. Default 120 s. */
  graceMs?: number;
  /** People per summary part. Default 1000. */
  summaryPartSize?: number;
  /**
   * JSON bytes of end outputs per `flushEnd` step; a step that is a single unit (one device's remaining sessions,
   * one summary part) may go over it.
   * Default 256 KiB: one step's outputs share one partition of each output topic and one transaction, which must
   * stay under Kafka's 1 MiB record-batch limit.
   */
  endStepBytes?: number;
}

export interface MeetingOutputs {
  sessions: AttendanceSession[];
  summaries: AttendanceMeetingSummary[];
}

export interface EndStep extends MeetingOutputs {
  /** True once the whole end went out (the meeting is closed). */
  done: boolean;
  /** JSON bytes of this step's outputs. */
  bytes: number;
}

export const DEFAULT_END_STEP_BYTES = 256 * 1024;

const ID_ORDER: Array<[keyof ParticipantFields, string]> = [
  ['participantUuid', 'p'],
  ['zoomUserId', 'z'],
  ['registrantId', 'r'],
  ['customerKey', 'c'],
  ['email', 'e'],
  ['userId', 'u'],
];

/** The pairing key of an event (room-scoped: a breakout room's sessions pair among themselves). */
export function pairingKey(input: { room: Room; breakoutRoomUuid?: string; participant: ParticipantFields }): string {
  const p = input.participant;
  let key = `n:${p.userName ?? ''}`;
  for (const [field, tag] of ID_ORDER) {
    const v = p[field];
    if (v) {
      key = `${tag}:${v}`;
      break;
    }
  }
  return input.room === 'breakout' ? `b:${input.breakoutRoomUuid ?? ''}|${key}` : key;
}

/** The person a participant's time counts for (see the file comment). */
export function personIdentity(p: ParticipantFields): AttendanceIdentity {
  if (p.zoomUserId) return { kind: 'zoom_user', value: p.zoomUserId };
  if (p.registrantId) return { kind: 'registrant', value: p.registrantId };
  if (p.customerKey) return { kind: 'customer_key', value: p.customerKey };
  if (p.email) return { kind: 'email', value: p.email };
  if (p.participantUuid) return { kind: 'participant', value: p.participantUuid };
  if (p.userId) return { kind: 'user_id', value: p.userId };
  return { kind: 'name', value: p.userName ?? '' };
}

export function identityKey(i: AttendanceIdentity): string {
  return `${i.kind}:${i.value}`;
}

function markBefore(a: Mark, b: Mark): number {
  return a.t - b.t || (a.k === b.k ? 0 : a.k === 'J' ? -1 : 1);
}

interface Closed {
  join: number | null;
  leave: number;
  reason?: string;
  flags: SessionFlag[];
  /** Index in marks of the mark that closed it. */
  upTo: number;
}

/** Sessions formed by a time-ordered sweep of marks; overlapping joins of one key make one session. */
function sweep(marks: Mark[]): { closed: Closed[]; openSince: number | null } {
  const closed: Closed[] = [];
  let depth = 0;
  let start = 0;
  marks.forEach((m, i) => {
    if (m.k === 'J') {
      if (depth === 0) start = m.t;
      depth++;
    } else if (depth === 0) {
      closed.push({ join: null, leave: m.t, reason: m.r, flags: ['join_missing'], upTo: i });
    } else if (--depth === 0) {
      closed.push({ join: start, leave: m.t, reason: m.r, flags: [], upTo: i });
    }
  });
  return { closed, openSince: depth > 0 ? start : null };
}

const iso = (t: number) => new Date(t).toISOString();

/** One meeting instance's attendance state: what the changelog holds for it. */
export class MeetingTracker {
  readonly devices = new Map<string, DeviceState>();
  /** Keys of devices changed since `takeDirty`. */
  private dirty = new Set<string>();
  /** Keys with a leave not yet emitted: the only ones a moving cutoff can make final. */
  private readonly pending = new Set<string>();
  private headerDirty = false;
  /** The summary parts of an ending meeting, once all its sessions went out. */
  private endSummary: AttendanceMeetingSummary[] | undefined;
  private readonly graceMs: number;
  private readonly partSize: number;
  readonly endStepBytes: number;

  constructor(
    readonly header: MeetingHeader,
    options: TrackerOptions = {},
  ) {
    this.graceMs = options.graceMs ?? 120_000;
    this.partSize = options.summaryPartSize ?? 1000;
    this.endStepBytes = options.endStepBytes ?? DEFAULT_END_STEP_BYTES;
  }

  static create(meetingUuid: string, meetingId: string, options?: TrackerOptions): MeetingTracker {
    return new MeetingTracker({ meetingUuid, meetingId, watermark: 0, late: 0 }, options);
  }

  get ended(): boolean {
    return this.header.endedAt !== undefined;
  }

  /** Applies one event. Idempotent: a repeated event changes nothing. Returns false when it was ignored. */
  apply(input: AttendanceInput): boolean {
    const h = this.header;
    if (!h.meetingId && input.meetingId) h.meetingId = input.meetingId;
    if (this.ended) {
      if (input.kind !== 'ended') this.ignore();
      return false;
    }
    if (input.at > h.watermark) {
      h.watermark = input.at;
      this.headerDirty = true;
    }
    if (!('participant' in input)) {
      if (input.kind === 'ended') h.endedAt = input.at;
      else if (h.startedAt === undefined || input.at < h.startedAt) h.startedAt = input.at;
      this.headerDirty = true;
      return true;
    }
    const pk = pairingKey(input);
    let d = this.devices.get(pk);
    if (!d) {
      d = {
        pk,
        room: input.room,
        ...(input.breakoutRoomUuid ? { br: input.breakoutRoomUuid } : {}),
        f: {},
        marks: [],
        done: [],
      };
      this.devices.set(pk, d);
    }
    const mark: Mark = {
      t: input.at,
      k: input.kind === 'joined' ? 'J' : 'L',
      ...(input.leaveReason ? { r: input.leaveReason } : {}),
    };
    if (d.floor !== undefined && mark.t <= d.floor) return this.ignore();
    if (d.marks.some((m) => m.t === mark.t && m.k === mark.k)) return false;
    for (const [k, v] of Object.entries(input.participant) as Array<[keyof ParticipantFields, string]>)
      if (!d.f[k]) d.f[k] = v;
    let i = d.marks.length;
    while (i > 0 && markBefore(d.marks[i - 1], mark) > 0) i--;
    d.marks.splice(i, 0, mark);
    this.dirty.add(pk);
    if (mark.k === 'L') this.pending.add(pk);
    return true;
  }

  private ignore(): false {
    this.header.late++;
    this.headerDirty = true;
    return false;
  }

  /**
   * Sessions that became final (their leave is `graceMs` behind the meeting's event time), and, once the meeting
   * ended, every remaining session (open ones closed at the end, flagged) and the summary.
   */
  flush(lookup: AppUserLookup): MeetingOutputs {
    let out: MeetingOutputs = { sessions: [], summaries: [] };
    if (this.header.closed) return out;
    if (this.ended) {
      out = this.flushEnd(lookup, Number.POSITIVE_INFINITY);
    } else {
      const cutoff = this.header.watermark - this.graceMs;
      for (const pk of this.pending) {
        const d = this.devices.get(pk)!;
        this.emit(d, cutoff, lookup, out);
        if (!d.marks.some((m) => m.k === 'L')) this.pending.delete(pk);
      }
    }
    // The same order in every process and after a restore (map order depends on history).
    out.sessions.sort(
      (a, b) => Date.parse(a.leftAt) - Date.parse(b.leftAt) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
    return { sessions: out.sessions, summaries: out.summaries };
  }

  /**
   * One step of an ended meeting's end, at most `maxBytes` of outputs (at least one unit when `maxBytes` > 0):
   * the remaining sessions of whole devices in pairing-key order, then summary parts. The state (device marks,
   * `header.end`) records what went out, so the next step, in this process or after a restore, continues where
   * this one stopped. Deterministic: the same state and budget give the same step. Not done: call again.
   */
  flushEnd(lookup: AppUserLookup, maxBytes = this.endStepBytes): EndStep {
    const out: EndStep = { sessions: [], summaries: [], done: true, bytes: 0 };
    const h = this.header;
    if (h.closed) return out;
    if (!this.ended || maxBytes <= 0) return { ...out, done: false };
    if (!h.end) {
      this.pairAnonymousLeaves();
      h.end = { parts: 0 };
      this.headerDirty = true;
    }
    const fits = (bytes: number): boolean => {
      if (out.bytes > 0 && out.bytes + bytes > maxBytes) return false;
      out.bytes += bytes;
      return true;
    };
    const size = (o: object) => Buffer.byteLength(JSON.stringify(o));
    for (const pk of [...this.devices.keys()].sort()) {
      const d = this.devices.get(pk)!;
      if (d.marks.length === 0) continue;
      const before = { marks: d.marks, floor: d.floor, done: d.done.length };
      const one: MeetingOutputs = { sessions: [], summaries: [] };
      this.emit(d, Number.POSITIVE_INFINITY, lookup, one);
      if (!fits(one.sessions.reduce((n, s) => n + size(s), 0))) {
        // Undo: this device goes out whole in the next step.
        d.marks = before.marks;
        d.floor = before.floor;
        d.done.length = before.done;
        return { ...out, done: false };
      }
      out.sessions.push(...one.sessions);
    }
    // Every session is out, so the summary no longer changes: computed once per process (a restore recomputes it).
    const parts = (this.endSummary ??= this.summary(lookup));
    for (let i = h.end.parts; i < parts.length; i++) {
      if (!fits(size(parts[i]))) return { ...out, done: false };
      out.summaries.push(parts[i]);
      h.end.parts = i + 1;
      this.headerDirty = true;
    }
    h.closed = true;
    this.headerDirty = true;
    for (const pk of this.devices.keys()) this.dirty.add(pk);
    return out;
  }

  /** Fields of the participants the next `flush` may emit (so app users can be looked up for them first). */
  candidates(): ParticipantFields[] {
    if (this.header.closed || this.endSummary) return [];
    const keys = this.ended ? this.devices.keys() : this.pending.values();
    return [...keys].map((pk) => this.devices.get(pk)!.f);
  }

  private emit(d: DeviceState, cutoff: number, lookup: AppUserLookup, out: MeetingOutputs): void {
    const { closed, openSince } = sweep(d.marks);
    let upTo = -1;
    for (const c of closed) {
      if (c.leave > cutoff) break;
      out.sessions.push(this.session(d, c.join, c.leave, c.reason, c.flags, lookup));
      d.done.push([c.join, c.leave, c.flags]);
      d.floor = c.leave;
      upTo = c.upTo;
    }
    if (cutoff === Number.POSITIVE_INFINITY && openSince !== null) {
      const end = Math.max(this.header.endedAt!, openSince);
      out.sessions.push(this.session(d, openSince, end, undefined, ['leave_missing'], lookup));
      d.done.push([openSince, end, ['leave_missing']]);
      d.floor = end;
      upTo = d.marks.length - 1;
    }
    if (upTo >= 0) {
      d.marks = d.marks.slice(upTo + 1);
      this.dirty.add(d.pk);
    }
  }

  private session(
    d: DeviceState,
    join: number | null,
    leave: number,
    reason: string | undefined,
    flags: SessionFlag[],
    lookup: AppUserLookup,
  ): AttendanceSession {
    const h = this.header;
    const appUserId = lookup(d.f, h.meetingId);
    return {
      v: 1,
      id: `${h.meetingUuid}|${d.pk}|${join ?? '-'}|${leave}`,
      meetingUuid: h.meetingUuid,
      meetingId: h.meetingId,
      room: d.room,
      ...(d.br ? { breakoutRoomUuid: d.br } : {}),
      identity: personIdentity(d.f),
      ...(appUserId ? { appUserId } : {}),
      participant: { ...d.f },
      joinedAt: join === null ? null : iso(join),
      leftAt: iso(leave),
      seconds: join === null ? 0 : Math.max(0, Math.round((leave - join) / 1000)),
      ...(reason ? { leaveReason: reason } : {}),
      flags,
    };
  }

  /**
   * Without participant_uuid a guest's join and leave can carry different user_ids (docs/ZOOM-FACTS.md): at the
   * end, a user_id key with only leaves is merged into the one key of the same display name with only joins.
   */
  private pairAnonymousLeaves(): void {
    const byName = new Map<string, { joins: DeviceState[]; leaves: DeviceState[] }>();
    for (const d of this.devices.values()) {
      if (!/^(b:[^|]*\|)?u:/.test(d.pk) || !d.f.userName || d.done.length > 0) continue;
      const onlyJ = d.marks.length > 0 && d.marks.every((m) => m.k === 'J');
      const onlyL = d.marks.length > 0 && d.marks.every((m) => m.k === 'L');
      if (!onlyJ && !onlyL) continue;
      const slot = byName.get(`${d.room}|${d.br ?? ''}|${d.f.userName}`) ?? { joins: [], leaves: [] };
      (onlyJ ? slot.joins : slot.leaves).push(d);
      byName.set(`${d.room}|${d.br ?? ''}|${d.f.userName}`, slot);
    }
    for (const { joins, leaves } of byName.values()) {
      if (joins.length !== 1 || leaves.length !== 1 || joins[0].marks.length !== 1 || leaves[0].marks.length !== 1)
        continue;
      const [j, l] = [joins[0], leaves[0]];
      if (l.marks[0].t < j.marks[0].t) continue;
      j.marks.push(l.marks[0]);
      this.devices.delete(l.pk);
      this.dirty.add(j.pk);
      this.dirty.add(l.pk);
    }
  }

  private summary(lookup: AppUserLookup): AttendanceMeetingSummary[] {
    const people = new Map<
      string,
      {
        identity: AttendanceIdentity;
        f: ParticipantFields;
        spans: Array<[number | null, number]>;
        flags: Set<SessionFlag>;
      }
    >();
    for (const d of this.devices.values()) {
      const identity = personIdentity(d.f);
      const key = identityKey(identity);
      const p = people.get(key) ?? { identity, f: {}, spans: [], flags: new Set<SessionFlag>() };
      for (const [k, v] of Object.entries(d.f) as Array<[keyof ParticipantFields, string]>) if (!p.f[k]) p.f[k] = v;
      for (const [j, l, flags] of d.done) {
        p.spans.push([j, l]);
        flags.forEach((f) => p.flags.add(f));
      }
      people.set(key, p);
    }
    const rows: AttendancePerson[] = [...people.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .filter(([, p]) => p.spans.length > 0)
      .map(([, p]) => {
        const known = p.spans.filter((s): s is [number, number] => s[0] !== null).sort((a, b) => a[0] - b[0]);
        let total = 0;
        let segments = 0;
        let curStart = 0;
        let curEnd = Number.NEGATIVE_INFINITY;
        for (const [s, e] of known) {
          if (s > curEnd) {
            if (segments > 0) total += curEnd - curStart;
            segments++;
            curStart = s;
            curEnd = e;
          } else if (e > curEnd) curEnd = e;
        }
        if (segments > 0) total += curEnd - curStart;
        const appUserId = lookup(p.f, this.header.meetingId);
        return {
          identity: p.identity,
          ...(appUserId ? { appUserId } : {}),
          ...(p.f.userName ? { userName: p.f.userName } : {}),
          totalSeconds: Math.round(total / 1000),
          firstJoin: known.length > 0 ? iso(known[0][0]) : null,
          lastLeave: iso(Math.max(...p.spans.map((s) => s[1]))),
          sessions: p.spans.length,
          rejoins: Math.max(0, segments - 1),
          flags: [...p.flags].sort(),
        };
      });
    const h = this.header;
    const parts = Math.max(1, Math.ceil(rows.length / this.partSize));
    return Array.from({ length: parts }, (_, i) => ({
      v: 1 as const,
      meetingUuid: h.meetingUuid,
      meetingId: h.meetingId,
      ...(h.startedAt !== undefined ? { startedAt: iso(h.startedAt) } : {}),
      endedAt: iso(h.endedAt!),
      part: i + 1,
      parts,
      people: rows.slice(i * this.partSize, (i + 1) * this.partSize),
    }));
  }

  /** Changed records since the last call: the header (when changed) and each changed device (null: deleted). */
  takeDirty(): { header: MeetingHeader | null; devices: Array<[string, DeviceState | null]> } {
    const devices: Array<[string, DeviceState | null]> = [];
    for (const pk of this.dirty) devices.push([pk, this.header.closed ? null : (this.devices.get(pk) ?? null)]);
    const header = this.headerDirty ? this.header : null;
    this.dirty = new Set();
    this.headerDirty = false;
    // A closed meeting keeps only its header (late events for it are ignored), so its devices are dropped.
    if (this.header.closed) {
      this.devices.clear();
      this.pending.clear();
    }
    return { header, devices };
  }

  /** Rebuilds a tracker from its changelog records. */
  static restore(header: MeetingHeader, devices: Iterable<DeviceState>, options?: TrackerOptions): MeetingTracker {
    const t = new MeetingTracker({ ...header }, options);
    if (!header.closed) {
      for (const d of devices) {
        t.devices.set(d.pk, d);
        if (d.marks.some((m) => m.k === 'L')) t.pending.add(d.pk);
      }
    }
    return t;
  }
}
