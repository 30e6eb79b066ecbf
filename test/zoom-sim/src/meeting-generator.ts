/**
 * Generates a realistic meeting as Zoom would report it (participant joined/left webhooks, breakout rooms,
 * started/ended) with the truth the attendance feature must reconstruct: every session and each person's total.
 * Deterministic for a seed. Facts behind the shapes: docs/ZOOM-FACTS.md, "Attendance".
 */
import type { CanonicalEvent } from '@zoom-pipeline/contracts';

export type PersonKind = 'signed_in' | 'registrant' | 'customer' | 'guest' | 'phone';

export interface GeneratedPerson {
  kind: PersonKind;
  name: string;
  zoomUserId?: string;
  registrantId?: string;
  customerKey?: string;
  email?: string;
  phoneNumber?: string;
  /** The app user the product knows this person as (through a link or a registration), if any. */
  appUserId?: string;
  /** How the app user is known: `link` (zoom.accounts.links) or a registration by one identifier. */
  mappedBy?: 'link' | 'registrant' | 'customer_key' | 'email';
  /** Devices (signed-in people only may have two). */
  devices: number;
}

/** One expected session (a join paired with its leave, or closed at the meeting's end). */
export interface TruthSession {
  /** Index into `people`. */
  person: number;
  /** The identity the feature should report (kind:value); for guests the session's participant_uuid. */
  identity: string;
  room: 'main' | 'breakout';
  join: number;
  leave: number;
  leaveMissing: boolean;
}

export interface TruthPerson {
  identity: string;
  appUserId?: string;
  totalSeconds: number;
  sessions: number;
  rejoins: number;
}

export interface ZoomParticipantEvent {
  event: string;
  event_ts: number;
  payload: { account_id: string; object: Record<string, unknown> };
}

export interface GeneratedMeeting {
  meetingUuid: string;
  meetingId: string;
  accountId: string;
  startAt: number;
  endAt: number;
  people: GeneratedPerson[];
  /** Webhook bodies in delivery order (reordered, with duplicates). */
  deliveries: ZoomParticipantEvent[];
  /** Expected sessions, in no particular order. */
  sessions: TruthSession[];
  /** Expected totals, one per identity. */
  totals: TruthPerson[];
  registrations: Array<{
    meetingId: string;
    registrantId?: string;
    customerKey?: string;
    email?: string;
    appUserId: string;
  }>;
  links: Array<{ zoomUserId: string; appUserId: string }>;
}

export interface MeetingGeneratorOptions {
  seed?: number;
  participants?: number;
  /** Share of each kind (normalised). Default signed_in 0.35, registrant 0.3, customer 0.1, guest 0.15, phone 0.1. */
  mix?: Partial<Record<PersonKind, number>>;
  /** Sessions per person beyond the first (network drops and rejoins): 0..maxRejoins. Default 3. */
  maxRejoins?: number;
  /** Exactly this many rejoins per device instead (the benchmark's webinar). */
  exactRejoins?: number;
  /** Meeting length. Default 60 min. */
  durationMs?: number;
  /** Latest a delivery comes after its event time (out-of-order window). Default 60 s. */
  maxDelayMs?: number;
  /** Share of deliveries sent twice. Default 0.05. */
  duplicateRate?: number;
  /** Share of people still in the meeting when it ends (no leave). Default 0.2. */
  stillInAtEnd?: number;
  /** Share of sessions with a breakout-room visit. Default 0.2. */
  breakoutRate?: number;
  /** Share of signed-in people on two devices at once. Default 0.1. */
  twoDeviceRate?: number;
  /** Start time (epoch ms, whole seconds). Default 2026-01-15T10:00:00Z. */
  startAt?: number;
  meetingUuid?: string;
  meetingId?: string;
  /** Prefix of app user ids (so two meetings in one test do not share users). */
  appUserPrefix?: string;
}

/** mulberry32: small, fast, seeded. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const LEAVE_REASONS = {
  left: (n: string) => `${n} left the meeting.<br>Reason: left the meeting.`,
  drop: (n: string) =>
    `left the meeting. Reason : left the meeting with Unknown Failover Reason`.replace(
      'left the meeting. ',
      `${n} left the meeting. `,
    ),
  breakout: (n: string) => `${n} left the meeting.<br>Reason: join breakout room.`,
  back: (n: string) => `${n} left the meeting.<br>Reason: leave breakout room.`,
};

const iso = (t: number) => new Date(t).toISOString().replace('.000Z', 'Z');

export function generateMeeting(options: MeetingGeneratorOptions = {}): GeneratedMeeting {
  const rnd = seededRandom(options.seed ?? 1);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(rnd() * 16).toString(16)).join('');
  const opaque = (n = 22) =>
    Array.from(
      { length: n },
      () => 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'[Math.floor(rnd() * 62)],
    ).join('');
  const pUuid = () => `${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)}`.toUpperCase();
  const n = options.participants ?? 20;
  const start = options.startAt ?? Date.parse('2026-01-15T10:00:00Z');
  const end = start + Math.floor((options.durationMs ?? 3_600_000) / 1000) * 1000;
  const maxDelay = options.maxDelayMs ?? 60_000;
  const prefix = options.appUserPrefix ?? 'app-user-';
  const meetingUuid = options.meetingUuid ?? `${opaque(22)}==`;
  const meetingId = options.meetingId ?? String(80_000_000_000 + int(0, 9_999_999_999));
  const accountId = 'AcctSim' + opaque(8);
  const mix: Record<PersonKind, number> = {
    signed_in: 0.35,
    registrant: 0.3,
    customer: 0.1,
    guest: 0.15,
    phone: 0.1,
    ...options.mix,
  };
  const mixTotal = Object.values(mix).reduce((a, b) => a + b, 0);
  const pickKind = (): PersonKind => {
    let r = rnd() * mixTotal;
    for (const [k, w] of Object.entries(mix) as Array<[PersonKind, number]>) {
      if ((r -= w) < 0) return k;
    }
    return 'guest';
  };

  const people: GeneratedPerson[] = [];
  const registrations: GeneratedMeeting['registrations'] = [];
  const links: GeneratedMeeting['links'] = [];
  for (let i = 0; i < n; i++) {
    const kind = pickKind();
    const name = `Person ${i} Ñandú`;
    const p: GeneratedPerson = { kind, name, devices: 1 };
    const appUserId = `${prefix}${i}`;
    if (kind === 'signed_in') {
      p.zoomUserId = opaque();
      p.email = `person${i}@example.com`;
      if (rnd() < (options.twoDeviceRate ?? 0.1)) p.devices = 2;
      const r = rnd();
      if (r < 0.5) {
        p.appUserId = appUserId;
        p.mappedBy = 'link';
        links.push({ zoomUserId: p.zoomUserId, appUserId });
      } else if (r < 0.7) {
        p.appUserId = appUserId;
        p.mappedBy = 'email';
        registrations.push({ meetingId, email: p.email, appUserId });
      }
    } else if (kind === 'registrant') {
      p.registrantId = opaque();
      p.email = `registrant${i}@example.org`;
      p.appUserId = appUserId;
      p.mappedBy = rnd() < 0.8 ? 'registrant' : 'email';
      registrations.push(
        p.mappedBy === 'registrant'
          ? { meetingId, registrantId: p.registrantId, appUserId }
          : { meetingId, email: p.email.toUpperCase(), appUserId },
      );
    } else if (kind === 'customer') {
      p.customerKey = `ck-${i}-${opaque(6)}`;
      p.appUserId = appUserId;
      p.mappedBy = 'customer_key';
      registrations.push({ meetingId, customerKey: p.customerKey, appUserId });
    } else if (kind === 'phone') {
      p.phoneNumber = `+4930${int(1_000_000, 9_999_999)}`;
    }
    people.push(p);
  }

  type Ev = { t: number; body: ZoomParticipantEvent };
  const events: Ev[] = [];
  const sessions: TruthSession[] = [];
  const object = (extra: Record<string, unknown>) => ({
    id: meetingId,
    uuid: meetingUuid,
    host_id: 'HostSim' + meetingId.slice(-6),
    topic: 'Attendance sim — Reunión',
    type: 2,
    start_time: iso(start),
    timezone: 'Europe/Berlin',
    duration: Math.round((end - start) / 60_000),
    ...extra,
  });
  const participantEvent = (
    event: string,
    t: number,
    participant: Record<string, unknown>,
    extra: Record<string, unknown> = {},
  ): Ev => ({
    t,
    body: {
      event,
      event_ts: t + int(50, 900),
      payload: { account_id: accountId, object: object({ ...extra, participant }) },
    },
  });

  people.forEach((p, index) => {
    const userId = () => String(16_778_240 + int(0, 9_999_999));
    const fields = (uuid: string): Record<string, unknown> => ({
      user_id: userId(),
      user_name: p.name,
      id: p.zoomUserId ?? '',
      participant_user_id: p.zoomUserId ?? '',
      participant_uuid: uuid,
      registrant_id: p.registrantId ?? '',
      email: p.email ?? '',
      ...(p.customerKey ? { customer_key: p.customerKey } : {}),
      ...(p.phoneNumber ? { phone_number: p.phoneNumber } : {}),
      public_ip: '198.51.100.' + int(1, 254),
    });
    const identityOf = (uuid: string) =>
      p.zoomUserId
        ? `zoom_user:${p.zoomUserId}`
        : p.registrantId
          ? `registrant:${p.registrantId}`
          : p.customerKey
            ? `customer_key:${p.customerKey}`
            : p.email
              ? `email:${p.email}`
              : `participant:${uuid}`;
    const stays = rnd() < (options.stillInAtEnd ?? 0.2);
    for (let device = 0; device < p.devices; device++) {
      const count = 1 + (options.exactRejoins ?? int(0, options.maxRejoins ?? 3));
      // Session boundaries: sorted distinct whole seconds inside the meeting, gaps of at least 5 s.
      const span = Math.floor((end - start) / 1000) - 10;
      const points = new Set<number>();
      while (points.size < count * 2) points.add(int(1, span));
      const sorted = [...points].sort((a, b) => a - b);
      for (let i = 1; i < sorted.length; i++) if (sorted[i] - sorted[i - 1] < 5) sorted[i] = sorted[i - 1] + 5;
      if (sorted[sorted.length - 1] * 1000 >= end - start - 2000) continue; // too crowded: this device never joins
      for (let s = 0; s < count; s++) {
        const join = start + sorted[2 * s] * 1000;
        const lastOfDevice = s === count - 1;
        const missing = lastOfDevice && stays;
        const leave = missing ? end : start + sorted[2 * s + 1] * 1000;
        const uuid = pUuid();
        const identity = identityOf(uuid);
        events.push(participantEvent('meeting.participant_joined', join, { ...fields(uuid), join_time: iso(join) }));
        // A breakout visit inside the session: main left → breakout joined … breakout left → main joined (new uuid).
        if (!missing && leave - join >= 60_000 && rnd() < (options.breakoutRate ?? 0.2)) {
          const b1 = join + Math.floor((leave - join) / 3000) * 1000;
          const b2 = b1 + Math.floor((leave - b1) / 2000) * 1000;
          const room = `BR${hex(6)}`;
          const bUuid = pUuid();
          const back = pUuid();
          events.push(
            participantEvent('meeting.participant_left', b1, {
              ...fields(uuid),
              leave_time: iso(b1),
              leave_reason: LEAVE_REASONS.breakout(p.name),
            }),
          );
          events.push(
            participantEvent(
              'meeting.participant_joined_breakout_room',
              b1,
              { ...fields(bUuid), join_time: iso(b1) },
              { breakout_room_uuid: room },
            ),
          );
          events.push(
            participantEvent(
              'meeting.participant_left_breakout_room',
              b2,
              { ...fields(bUuid), leave_time: iso(b2), leave_reason: LEAVE_REASONS.back(p.name) },
              { breakout_room_uuid: room },
            ),
          );
          events.push(participantEvent('meeting.participant_joined', b2, { ...fields(back), join_time: iso(b2) }));
          events.push(
            participantEvent('meeting.participant_left', leave, {
              ...fields(back),
              leave_time: iso(leave),
              leave_reason: LEAVE_REASONS.left(p.name),
            }),
          );
          sessions.push({ person: index, identity, room: 'main', join, leave: b1, leaveMissing: false });
          sessions.push({
            person: index,
            identity: identityOf(bUuid),
            room: 'breakout',
            join: b1,
            leave: b2,
            leaveMissing: false,
          });
          sessions.push({
            person: index,
            identity: identityOf(back),
            room: 'main',
            join: b2,
            leave,
            leaveMissing: false,
          });
          continue;
        }
        if (!missing) {
          const reason = lastOfDevice ? LEAVE_REASONS.left(p.name) : LEAVE_REASONS.drop(p.name);
          events.push(
            participantEvent('meeting.participant_left', leave, {
              ...fields(uuid),
              leave_time: iso(leave),
              leave_reason: reason,
            }),
          );
        }
        sessions.push({ person: index, identity, room: 'main', join, leave, leaveMissing: missing });
      }
    }
  });

  // Delivery order: each event is delivered up to maxDelay after it happened; some twice.
  const delivered = events
    .map((e) => ({ at: e.t + int(0, maxDelay), e }))
    .flatMap((d) => (rnd() < (options.duplicateRate ?? 0.05) ? [d, { at: d.at + int(0, maxDelay), e: d.e }] : [d]))
    .sort((a, b) => a.at - b.at);
  const started: ZoomParticipantEvent = {
    event: 'meeting.started',
    event_ts: start + 300,
    payload: { account_id: accountId, object: object({}) },
  };
  const ended: ZoomParticipantEvent = {
    event: 'meeting.ended',
    event_ts: end + 400,
    payload: { account_id: accountId, object: { ...object({}), end_time: iso(end) } },
  };
  const deliveries = [started, ...delivered.map((d) => d.e.body), ended];

  // Totals per identity: union of the person's intervals (devices and rooms overlap once).
  const byIdentity = new Map<string, { person: number; spans: Array<[number, number]> }>();
  for (const s of sessions) {
    const key = s.identity;
    const entry = byIdentity.get(key) ?? { person: s.person, spans: [] };
    entry.spans.push([s.join, s.leave]);
    byIdentity.set(key, entry);
  }
  const totals: TruthPerson[] = [];
  for (const [identity, { person, spans }] of byIdentity) {
    spans.sort((a, b) => a[0] - b[0]);
    let total = 0;
    let segments = 0;
    let [cs, ce] = [0, Number.NEGATIVE_INFINITY];
    for (const [s, e] of spans) {
      if (s > ce) {
        if (segments > 0) total += ce - cs;
        segments++;
        [cs, ce] = [s, e];
      } else if (e > ce) ce = e;
    }
    total += ce - cs;
    totals.push({
      identity,
      appUserId: people[person].appUserId,
      totalSeconds: Math.round(total / 1000),
      sessions: spans.length,
      rejoins: segments - 1,
    });
  }
  return {
    meetingUuid,
    meetingId,
    accountId,
    startAt: start,
    endAt: end,
    people,
    deliveries,
    sessions,
    totals,
    registrations,
    links,
  };
}

/**
 * The canonical event dedup would emit for one generated delivery, for feeding `zoom.events` directly (skipping
 * ingress and dedup) in attendance tests and benches.
 */
export function canonicalEventOf(delivery: ZoomParticipantEvent, id: string, deliveryId: string): CanonicalEvent {
  const body = delivery as unknown as Record<string, unknown>;
  const object = (body.payload as { object: { uuid: string } }).object;
  return {
    specversion: '1.0',
    id,
    source: 'zoom-pipeline/default',
    type: `us.zoom.${String(body.event)}`,
    subject: object.uuid,
    time: new Date(Number(body.event_ts)).toISOString(),
    datacontenttype: 'application/json',
    data: body,
    deliverycount: 1,
    zoomdeliveryid: deliveryId,
    zoomapp: 'default',
  };
}
