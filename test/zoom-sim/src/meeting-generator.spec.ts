import { type AppUserMaps, MeetingTracker, parseAttendanceInput, resolveAppUser } from '@zoom-pipeline/attendance-core';
import type { AttendanceMeetingSummary, AttendanceSession } from '@zoom-pipeline/contracts';
import fc from 'fast-check';
import { type GeneratedMeeting, generateMeeting, seededRandom } from './meeting-generator';

/** Runs a generated meeting's deliveries through the pure core, flushing at random batch boundaries. */
function replay(
  m: GeneratedMeeting,
  batchSeed: number,
  order = m.deliveries,
): { sessions: AttendanceSession[]; summaries: AttendanceMeetingSummary[] } {
  const maps: AppUserMaps = {
    links: new Map(m.links.map((l) => [l.zoomUserId, l.appUserId])),
    registrations: new Map(),
  };
  const regs = maps.registrations as Map<string, string>;
  for (const r of m.registrations) {
    if (r.registrantId) regs.set(`r:${r.registrantId}`, r.appUserId);
    if (r.customerKey) regs.set(`c:${r.customerKey}`, r.appUserId);
    if (r.email) regs.set(`e:${r.email.toLowerCase()}`, r.appUserId);
  }
  const lookup = (f: Parameters<typeof resolveAppUser>[0]) => resolveAppUser(f, maps);
  const tracker = MeetingTracker.create(m.meetingUuid, m.meetingId);
  const rnd = seededRandom(batchSeed);
  const sessions: AttendanceSession[] = [];
  const summaries: AttendanceMeetingSummary[] = [];
  for (const body of order) {
    const input = parseAttendanceInput(body as unknown as Record<string, unknown>);
    if (input) tracker.apply(input);
    if (rnd() < 0.3) {
      const out = tracker.flush(lookup);
      sessions.push(...out.sessions);
      summaries.push(...out.summaries);
    }
  }
  const out = tracker.flush(lookup);
  sessions.push(...out.sessions, ...tracker.flush(lookup).sessions);
  summaries.push(...out.summaries);
  return { sessions, summaries };
}

const key = (identity: string, room: string, join: number | null, leave: number) =>
  `${identity}|${room}|${join}|${leave}`;

function expectMatchesTruth(
  m: GeneratedMeeting,
  got: { sessions: AttendanceSession[]; summaries: AttendanceMeetingSummary[] },
): void {
  const want = m.sessions.map((s) => key(s.identity, s.room, s.join, s.leave)).sort();
  const have = got.sessions
    .map((s) =>
      key(
        `${s.identity.kind}:${s.identity.value}`,
        s.room,
        s.joinedAt === null ? null : Date.parse(s.joinedAt),
        Date.parse(s.leftAt),
      ),
    )
    .sort();
  expect(have).toEqual(want);
  // Flags: exactly the sessions still open at the end are closed by meeting.ended.
  expect(got.sessions.filter((s) => s.flags.includes('leave_missing')).length).toBe(
    m.sessions.filter((s) => s.leaveMissing).length,
  );
  expect(got.sessions.filter((s) => s.flags.includes('join_missing'))).toEqual([]);
  // Nothing attributed to the wrong app user, and every mapped person attributed.
  for (const s of got.sessions) {
    const truth = m.sessions.find(
      (t) =>
        key(t.identity, t.room, t.join, t.leave) ===
        key(
          `${s.identity.kind}:${s.identity.value}`,
          s.room,
          s.joinedAt === null ? null : Date.parse(s.joinedAt),
          Date.parse(s.leftAt),
        ),
    )!;
    expect(s.appUserId).toBe(m.people[truth.person].appUserId);
  }
  const people = got.summaries.flatMap((s) => s.people);
  expect(got.summaries.length).toBeGreaterThan(0);
  const totals = Object.fromEntries(
    people.map((p) => [
      `${p.identity.kind}:${p.identity.value}`,
      { appUserId: p.appUserId, totalSeconds: p.totalSeconds, sessions: p.sessions, rejoins: p.rejoins },
    ]),
  );
  expect(totals).toEqual(
    Object.fromEntries(
      m.totals.map((t) => [
        t.identity,
        { appUserId: t.appUserId, totalSeconds: t.totalSeconds, sessions: t.sessions, rejoins: t.rejoins },
      ]),
    ),
  );
}

describe('generated meetings through the attendance core', () => {
  it('a 300-person meeting: every session and total equals the generated truth', () => {
    const m = generateMeeting({ seed: 17, participants: 300 });
    expect(m.people.filter((p) => p.kind === 'guest').length).toBeGreaterThan(10);
    expect(m.deliveries.length).toBeGreaterThan(1000);
    expectMatchesTruth(m, replay(m, 1));
  });

  it('property: any seed, mix, reordering within the grace period and batch boundaries give the truth', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 0, max: 4 }),
        fc.integer({ min: 0, max: 110_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer(),
        (seed, participants, maxRejoins, maxDelayMs, guests, batchSeed) => {
          const m = generateMeeting({
            seed,
            participants,
            maxRejoins,
            maxDelayMs,
            mix: { guest: guests },
            duplicateRate: 0.2,
            breakoutRate: 0.3,
            twoDeviceRate: 0.3,
          });
          expectMatchesTruth(m, replay(m, batchSeed));
        },
      ),
      { numRuns: 150 },
    );
  });

  it(
    'property: any permutation of the participant events before meeting.ended gives the truth when sessions ' +
      'are final only at the end',
    () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 2 ** 31 - 1 }),
          fc.integer({ min: 1, max: 15 }),
          fc.integer(),
          (seed, participants, shuffleSeed) => {
            const m = generateMeeting({ seed, participants, duplicateRate: 0.2 });
            const middle = m.deliveries.slice(1, -1);
            const rnd = seededRandom(shuffleSeed);
            for (let i = middle.length - 1; i > 0; i--) {
              const j = Math.floor(rnd() * (i + 1));
              [middle[i], middle[j]] = [middle[j], middle[i]];
            }
            // An unbounded reordering is only safe when nothing is final before the end (grace = meeting length).
            const order = [m.deliveries[0], ...middle, m.deliveries[m.deliveries.length - 1]];
            const maps = {
              links: new Map(m.links.map((l) => [l.zoomUserId, l.appUserId])),
              registrations: new Map<string, string>(),
            };
            for (const r of m.registrations) {
              if (r.registrantId) maps.registrations.set(`r:${r.registrantId}`, r.appUserId);
              if (r.customerKey) maps.registrations.set(`c:${r.customerKey}`, r.appUserId);
              if (r.email) maps.registrations.set(`e:${r.email.toLowerCase()}`, r.appUserId);
            }
            const tracker = MeetingTracker.create(m.meetingUuid, m.meetingId, { graceMs: Number.MAX_SAFE_INTEGER });
            const sessions: AttendanceSession[] = [];
            const summaries: AttendanceMeetingSummary[] = [];
            for (const body of order) {
              const input = parseAttendanceInput(body as unknown as Record<string, unknown>);
              if (input) tracker.apply(input);
              const out = tracker.flush((f) => resolveAppUser(f, maps));
              sessions.push(...out.sessions);
              summaries.push(...out.summaries);
            }
            expectMatchesTruth(m, { sessions, summaries });
          },
        ),
        { numRuns: 100 },
      );
    },
  );
});
