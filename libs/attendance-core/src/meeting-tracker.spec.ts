import type { AttendanceMeetingSummary, AttendanceSession, ParticipantFields } from '@zoom-pipeline/contracts';
import fc from 'fast-check';
import { parseLeaveReason } from './leave-reason';
import { MeetingTracker } from './meeting-tracker';
import { type AttendanceInput, parseAttendanceInput } from './participant-event';

const T0 = Date.parse('2026-01-15T10:00:00Z');
const at = (s: number) => T0 + s * 1000;
const M = { meetingUuid: 'uuid/+==', meetingId: '85746065123' };
const join = (s: number, participant: ParticipantFields): AttendanceInput => ({
  kind: 'joined',
  ...M,
  at: at(s),
  room: 'main',
  participant,
});
const leave = (s: number, participant: ParticipantFields, leaveReason?: string): AttendanceInput => ({
  kind: 'left',
  ...M,
  at: at(s),
  room: 'main',
  participant,
  ...(leaveReason ? { leaveReason } : {}),
});
const ended = (s: number): AttendanceInput => ({ kind: 'ended', ...M, at: at(s) });
const none = () => undefined;

function run(inputs: AttendanceInput[], graceMs?: number) {
  const t = MeetingTracker.create(M.meetingUuid, M.meetingId, { graceMs });
  const sessions: AttendanceSession[] = [];
  const summaries: AttendanceMeetingSummary[] = [];
  for (const i of inputs) {
    t.apply(i);
    const out = t.flush(none);
    sessions.push(...out.sessions);
    summaries.push(...out.summaries);
  }
  return { t, sessions, summaries };
}

describe('parseLeaveReason', () => {
  it.each([
    ['Dana Whitfield left the meeting.<br>Reason: Host ended the meeting.', 'Host ended the meeting'],
    [
      'left the meeting. Reason : left the meeting with Unknown Failover Reason',
      'left the meeting with Unknown Failover Reason',
    ],
    ['<b>Ana</b> &amp; co left.<br/>reason:  Network connection error  ', 'Network connection error'],
    ['Someone left the meeting.', 'Someone left the meeting'],
    ['<br>', undefined],
    [undefined, undefined],
  ])('%p → %p', (raw, want) => expect(parseLeaveReason(raw)).toBe(want));
});

describe('parseAttendanceInput', () => {
  it('reads the fixture shape: ids, lower-cased email, leave reason; empty strings dropped', () => {
    const body = {
      event: 'meeting.participant_left',
      payload: {
        object: {
          uuid: '/Gx2k7+Rq0S1o9Lb//nYQw==',
          id: 85746065123,
          participant: {
            leave_time: '2025-02-26T18:58:12Z',
            user_id: '16778240',
            user_name: 'Dana',
            registrant_id: '',
            participant_user_id: 'pQ7',
            id: 'pQ7',
            leave_reason: 'Dana left the meeting.<br>Reason: left the meeting.',
            email: 'Dana@Example.com',
            participant_uuid: '5F3C',
          },
        },
      },
    };
    expect(parseAttendanceInput(body)).toEqual({
      kind: 'left',
      meetingUuid: '/Gx2k7+Rq0S1o9Lb//nYQw==',
      meetingId: '85746065123',
      at: Date.parse('2025-02-26T18:58:12Z'),
      room: 'main',
      participant: {
        participantUuid: '5F3C',
        zoomUserId: 'pQ7',
        email: 'dana@example.com',
        userId: '16778240',
        userName: 'Dana',
      },
      leaveReason: 'left the meeting',
    });
  });

  it('skips what is not attendance or cannot be paired (never throws)', () => {
    expect(parseAttendanceInput({ event: 'recording.completed', payload: { object: { uuid: 'u' } } })).toBeNull();
    expect(
      parseAttendanceInput({
        event: 'meeting.participant_joined',
        payload: { object: { uuid: 'u', participant: { join_time: 'nope' } } },
      }),
    ).toBeNull();
    expect(
      parseAttendanceInput({ event: 'meeting.participant_joined_waiting_room', payload: { object: { uuid: 'u' } } }),
    ).toBeNull();
    expect(parseAttendanceInput({ event: 'meeting.participant_joined' })).toBeNull();
  });
});

describe('MeetingTracker', () => {
  const dana: ParticipantFields = { zoomUserId: 'Z1', email: 'dana@example.com', userName: 'Dana' };

  it(
    'pairs out-of-order rejoins by their own times (no ' + 'participant_uuid; user_id differs between join and leave)',
    () => {
      const { sessions, summaries } = run([
        join(10, { ...dana, userId: '1' }),
        join(130, { ...dana, userId: '2' }),
        leave(100, { ...dana, userId: '3' }, 'Network'),
        leave(500, dana),
        ended(3600),
      ]);
      expect(sessions.map((s) => [s.joinedAt, s.leftAt, s.seconds, s.leaveReason ?? null, s.flags])).toEqual([
        [new Date(at(10)).toISOString(), new Date(at(100)).toISOString(), 90, 'Network', []],
        [new Date(at(130)).toISOString(), new Date(at(500)).toISOString(), 370, null, []],
      ]);
      expect(summaries[0].people).toEqual([
        expect.objectContaining({
          identity: { kind: 'zoom_user', value: 'Z1' },
          totalSeconds: 460,
          sessions: 2,
          rejoins: 1,
        }),
      ]);
    },
  );

  it('flags a leave without a join (start unknown) and a join without a leave (closed at meeting.ended)', () => {
    const { sessions, summaries } = run([
      leave(50, { participantUuid: 'A' }),
      join(60, { participantUuid: 'B', email: 'x@y.z' }),
      ended(600),
    ]);
    expect(sessions).toEqual([
      expect.objectContaining({
        joinedAt: null,
        seconds: 0,
        flags: ['join_missing'],
        identity: { kind: 'participant', value: 'A' },
      }),
      expect.objectContaining({
        seconds: 540,
        flags: ['leave_missing'],
        leftAt: new Date(at(600)).toISOString(),
        identity: { kind: 'email', value: 'x@y.z' },
      }),
    ]);
    expect(summaries[0].people.map((p) => [p.identity.value, p.totalSeconds, p.firstJoin, p.flags])).toEqual([
      ['x@y.z', 540, new Date(at(60)).toISOString(), ['leave_missing']],
      ['A', 0, null, ['join_missing']],
    ]);
  });

  it('counts two devices of one person once in the total, each device its own session', () => {
    const { sessions, summaries } = run([
      join(0, { ...dana, participantUuid: 'D1' }),
      join(100, { ...dana, participantUuid: 'D2' }),
      leave(300, { ...dana, participantUuid: 'D1' }),
      leave(400, { ...dana, participantUuid: 'D2' }),
      ended(1000),
    ]);
    expect(sessions.map((s) => s.seconds).sort()).toEqual([300, 300]);
    expect(summaries[0].people).toEqual([expect.objectContaining({ totalSeconds: 400, sessions: 2, rejoins: 0 })]);
  });

  it('a session is final only once the meeting moved past its leave by the grace period', () => {
    const t = MeetingTracker.create(M.meetingUuid, M.meetingId, { graceMs: 60_000 });
    t.apply(join(0, { participantUuid: 'A' }));
    t.apply(leave(100, { participantUuid: 'A' }));
    expect(t.flush(none).sessions).toEqual([]);
    t.apply(join(159, { participantUuid: 'B' }));
    expect(t.flush(none).sessions).toEqual([]);
    t.apply(join(160, { participantUuid: 'C' }));
    expect(t.flush(none).sessions).toHaveLength(1);
  });

  it('is idempotent: repeated events, a repeated ended and events after the end change nothing', () => {
    const events = [join(0, dana), leave(100, dana), ended(200)];
    const once = run(events);
    const twice = run([...events, ...events, join(150, dana), leave(300, dana)]);
    expect(twice.sessions).toEqual(once.sessions);
    expect(twice.summaries).toEqual(once.summaries);
    expect(twice.t.header.late).toBeGreaterThan(0);
  });

  it('a guest without participant_uuid whose user_id changed is still paired at the end (same display name)', () => {
    const { sessions } = run([
      join(0, { userId: '16778240', userName: 'Guest 7' }),
      leave(90, { userId: '16779264', userName: 'Guest 7' }),
      ended(200),
    ]);
    expect(sessions).toEqual([
      expect.objectContaining({ seconds: 90, flags: [], identity: { kind: 'user_id', value: '16778240' } }),
    ]);
  });

  it('property: a tracker restored from its changelog records continues exactly like the one that wrote them', () => {
    const ev = fc.record({
      s: fc.integer({ min: 0, max: 400 }),
      who: fc.constantFrom('A', 'B', 'C'),
      k: fc.constantFrom('J', 'L'),
      dev: fc.constantFrom('1', '2'),
    });
    fc.assert(
      fc.property(fc.array(ev, { maxLength: 40 }), fc.nat(40), (list, cut) => {
        const inputs = list.map((e) =>
          e.k === 'J'
            ? join(e.s, { email: `${e.who}@x`, participantUuid: e.who + e.dev })
            : leave(e.s, { email: `${e.who}@x`, participantUuid: e.who + e.dev }),
        );
        inputs.push(ended(500));
        const whole = run(inputs, 30_000);
        // Run the first `cut` inputs, keep only what takeDirty hands out (the changelog), restore, run the rest.
        const first = MeetingTracker.create(M.meetingUuid, M.meetingId, { graceMs: 30_000 });
        const log = new Map<string, unknown>();
        let header = first.header;
        const sessions: AttendanceSession[] = [];
        const summaries: AttendanceMeetingSummary[] = [];
        const step = (t: MeetingTracker, i: AttendanceInput) => {
          t.apply(i);
          const out = t.flush(none);
          sessions.push(...out.sessions);
          summaries.push(...out.summaries);
          const dirty = t.takeDirty();
          if (dirty.header) header = JSON.parse(JSON.stringify(dirty.header));
          for (const [pk, d] of dirty.devices) {
            if (d) log.set(pk, JSON.parse(JSON.stringify(d)));
            else log.delete(pk);
          }
        };
        inputs.slice(0, cut).forEach((i) => step(first, i));
        const second = MeetingTracker.restore(header, log.values() as Iterable<never>, { graceMs: 30_000 });
        inputs.slice(cut).forEach((i) => step(second, i));
        expect(sessions).toEqual(whole.sessions);
        expect(summaries).toEqual(whole.summaries);
      }),
      { numRuns: 300 },
    );
  });

  it(
    'property: an end in bounded steps, restored from the changelog ' + 'between any steps, emits the whole end once',
    () => {
      const byId = (a: AttendanceSession, b: AttendanceSession) => (a.id < b.id ? -1 : 1);
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 60 }),
          fc.integer({ min: 1, max: 4000 }),
          fc.array(fc.boolean(), { maxLength: 200 }),
          (people, budget, restores) => {
            const inputs: AttendanceInput[] = [];
            for (let i = 0; i < people; i++) {
              const p = { registrantId: `r${i}`, participantUuid: `p${i}`, userName: `Person ${i}` };
              inputs.push(join(i, p));
              if (i % 3 === 0) inputs.push(leave(100 + i, p), join(200 + i, p));
            }
            inputs.push(ended(1000));
            const options = { graceMs: 30_000, summaryPartSize: 7 };
            const whole = MeetingTracker.create(M.meetingUuid, M.meetingId, options);
            inputs.forEach((i) => whole.apply(i));
            const want = whole.flush(none);
            let t = MeetingTracker.create(M.meetingUuid, M.meetingId, options);
            inputs.forEach((i) => t.apply(i));
            const log = new Map<string, unknown>();
            const sessions: AttendanceSession[] = [];
            const summaries: AttendanceMeetingSummary[] = [];
            for (let n = 0; ; n++) {
              const step = t.flushEnd(none, budget);
              sessions.push(...step.sessions);
              summaries.push(...step.summaries);
              // Bounded: over the budget only when the step is a single unit (one device's sessions or one part).
              const units =
                new Set(step.sessions.map((x) => x.participant.participantUuid)).size + step.summaries.length;
              if (step.bytes > budget) expect(units).toBe(1);
              expect(step.sessions.length + step.summaries.length).toBeGreaterThan(0);
              const dirty = t.takeDirty();
              for (const [pk, d] of dirty.devices) {
                if (d) log.set(pk, JSON.parse(JSON.stringify(d)));
                else log.delete(pk);
              }
              if (step.done) break;
              if (restores[n])
                t = MeetingTracker.restore(
                  JSON.parse(JSON.stringify(dirty.header ?? t.header)),
                  log.values() as Iterable<never>,
                  options,
                );
            }
            expect(t.header.closed).toBe(true);
            expect(log.size).toBe(0);
            expect(sessions.sort(byId)).toEqual(want.sessions.sort(byId));
            expect(new Set(sessions.map((s) => s.id)).size).toBe(sessions.length);
            expect(summaries).toEqual(want.summaries);
            expect(summaries.map((s) => `${s.part}/${s.parts}`)).toEqual(
              Array.from({ length: Math.ceil(people / 7) }, (_, i) => `${i + 1}/${Math.ceil(people / 7)}`),
            );
          },
        ),
        { numRuns: 200 },
      );
    },
  );
});
