/**
 * A very large meeting end on real Kafka (issue #17): 10,000 people all still in the meeting at `meeting.ended`.
 * The end's sessions and summary exceed Kafka's 1 MiB record-batch limit for one transaction, so the attendance
 * app emits the end in bounded steps (ATTENDANCE_END_STEP_BYTES). Every session and every summary part must come
 * out exactly once, with and without a SIGKILL in the middle of the end, and a meeting behind the large one on
 * the same zoom.events partition must still get its outputs. Events go straight onto zoom.events (canonical
 * events, as the dedup writes them): 20,000 webhooks through the ingress would only slow the test down.
 */
import {
  type AttendanceMeetingSummary,
  type AttendanceSession,
  DEFAULT_PARTITIONS,
  TOPICS,
  encodeCanonicalEvent,
} from '@zoom-pipeline/contracts';
import { partitionForKey } from '@zoom-pipeline/event-bus';
import {
  type AppName,
  type AppProcess,
  type TopicMark,
  loadEndpoints,
  markTopics,
  readTopic,
  startApp,
  testKafka,
  waitFor,
} from '@zoom-pipeline/test-support';
import { type GeneratedMeeting, canonicalEventOf, generateMeeting } from '@zoom-pipeline/zoom-sim';

jest.setTimeout(420_000);

const ATTENDANCE = 'attendance' as AppName;
const PEOPLE = 10_000;

describe('attendance: a 10,000-person meeting ending with everyone still in (real Kafka)', () => {
  const prefix = `zp-e2e-attbig-${process.pid}:`;
  const procs: AppProcess[] = [];
  let attendance: AppProcess;
  let marks = new Map<string, TopicMark>();

  const startAttendance = async () => {
    const e = loadEndpoints();
    const p = await startApp(
      ATTENDANCE,
      {
        KAFKA_BROKERS: e.kafkaBrokers,
        REDIS_URL: e.redisUrl,
        REDIS_KEY_PREFIX: prefix,
        ATTENDANCE_GRACE: '120s',
        // Small steps: the end takes ~100 transactions, so a kill lands in the middle of it.
        ATTENDANCE_END_STEP_BYTES: '64KiB',
      },
      { waitFor: 'healthz' },
    );
    procs.push(p);
    return p;
  };

  beforeAll(async () => {
    marks = await markTopics(TOPICS.attendanceSessions, TOPICS.attendanceMeetings);
    attendance = await startAttendance();
  });

  afterAll(async () => {
    await Promise.all(
      procs.map((p) =>
        Promise.race([p.kill('SIGTERM'), new Promise((r) => setTimeout(r, 20_000)).then(() => p.kill('SIGKILL'))]),
      ),
    );
  });

  /** The large meeting and a small one after it, both on the large one's zoom.events partition. */
  function meetings(tag: string, seed: number): { big: GeneratedMeeting; next: GeneratedMeeting; partition: number } {
    const startAt = Date.parse('2026-12-03T09:00:00Z') + seed * 86_400_000;
    const big = generateMeeting({
      seed,
      participants: PEOPLE,
      stillInAtEnd: 1,
      maxRejoins: 0,
      breakoutRate: 0,
      startAt,
      meetingUuid: `big-${tag}-${process.pid}-${Date.now()}==`,
    });
    const next = generateMeeting({
      seed: seed + 1,
      participants: 20,
      startAt: big.endAt + 60_000,
      meetingUuid: `next-${tag}-${process.pid}-${Date.now()}==`,
    });
    return { big, next, partition: partitionForKey(big.meetingUuid, DEFAULT_PARTITIONS[TOPICS.events]) };
  }

  async function publish(m: GeneratedMeeting, partition: number): Promise<void> {
    const producer = testKafka().producer();
    await producer.connect();
    try {
      // Chunks well under the broker's 1 MiB record-batch limit.
      for (let i = 0; i < m.deliveries.length; i += 300)
        await producer.send({
          topic: TOPICS.events,
          messages: m.deliveries.slice(i, i + 300).map((d, j) => ({
            key: m.meetingUuid,
            partition,
            value: encodeCanonicalEvent(
              canonicalEventOf(d, `${m.meetingUuid}-${i + j}`, `d-${m.meetingUuid}-${i + j}`),
            ),
          })),
        });
    } finally {
      await producer.disconnect();
    }
  }

  /** The meeting's outputs once every summary part is committed (its last part is emitted after its sessions). */
  async function outputs(
    m: GeneratedMeeting,
  ): Promise<{ sessions: AttendanceSession[]; parts: AttendanceMeetingSummary[] }> {
    const parts = await waitFor(
      `the whole summary of ${m.meetingUuid}`,
      async () => {
        const got = (await readTopic(TOPICS.attendanceMeetings, { from: marks.get(TOPICS.attendanceMeetings) }))
          .filter((r) => r.key === m.meetingUuid)
          .map((r) => JSON.parse(r.value.toString()) as AttendanceMeetingSummary);
        return got.length > 0 && got.length >= got[0].parts ? got : undefined;
      },
      300_000,
      3_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nattendance log tail:\n${attendance.output().slice(-3000)}`);
    });
    const sessions = (
      await readTopic(TOPICS.attendanceSessions, { from: marks.get(TOPICS.attendanceSessions), timeoutMs: 120_000 })
    )
      .filter((r) => r.key === m.meetingUuid)
      .map((r) => JSON.parse(r.value.toString()) as AttendanceSession);
    return { sessions, parts };
  }

  /** Every session and summary part exactly once, equal to what zoom-sim generated. */
  function expectExactlyOnce(
    m: GeneratedMeeting,
    got: { sessions: AttendanceSession[]; parts: AttendanceMeetingSummary[] },
  ) {
    const key = (identity: string, join: string | null, leave: string) => `${identity}|${join}|${leave}`;
    const want = m.sessions
      .map((s) => key(s.identity, new Date(s.join).toISOString(), new Date(s.leave).toISOString()))
      .sort();
    const have = got.sessions.map((s) => key(`${s.identity.kind}:${s.identity.value}`, s.joinedAt, s.leftAt)).sort();
    expect(new Set(got.sessions.map((s) => s.id)).size).toBe(got.sessions.length);
    expect(have).toEqual(want);
    const parts = got.parts.map((p) => `${p.part}/${p.parts}`).sort();
    const n = got.parts[0].parts;
    expect(parts).toEqual(Array.from({ length: n }, (_, i) => `${i + 1}/${n}`).sort());
    const totals = Object.fromEntries(
      got.parts
        .flatMap((p) => p.people)
        .map((p) => [`${p.identity.kind}:${p.identity.value}`, [p.totalSeconds, p.sessions, p.rejoins]]),
    );
    expect(Object.keys(totals)).toHaveLength(got.parts.reduce((k, p) => k + p.people.length, 0));
    expect(totals).toEqual(
      Object.fromEntries(m.totals.map((t) => [t.identity, [t.totalSeconds, t.sessions, t.rejoins]])),
    );
  }

  const handedOut = async (): Promise<number> =>
    Number(
      /^zoom_attendance_sessions_total(?:\{[^}]*\})? (\d+)/m.exec(
        await (await fetch(`${attendance.url}/metrics`)).text(),
      )?.[1] ?? NaN,
    );

  it('the end goes out whole, exactly once; the next meeting on the same partition gets through', async () => {
    const { big, next, partition } = meetings('whole', 1);
    expect(big.sessions.every((s) => s.leaveMissing)).toBe(true);
    expect(big.sessions.length).toBeGreaterThanOrEqual(PEOPLE);
    await publish(big, partition);
    await publish(next, partition);
    const got = await outputs(big);
    expectExactlyOnce(big, got);
    expect(got.parts).toHaveLength(Math.ceil(PEOPLE / 1000));
    expect(got.sessions.every((s) => s.flags.includes('leave_missing'))).toBe(true);
    expectExactlyOnce(next, await outputs(next));
  });

  it('SIGKILL while the end goes out: after the restart every session and part is out exactly once', async () => {
    const { big, next, partition } = meetings('kill', 2);
    const before = await handedOut();
    expect(before).toBeGreaterThanOrEqual(0);
    await publish(big, partition);
    await publish(next, partition);
    // Kill in the middle of the end: a good part of its sessions handed out, not all of them.
    const atKill = await waitFor(
      'the end under way',
      async () => {
        const n = (await handedOut()) - before;
        return n >= 2_000 ? n : undefined;
      },
      240_000,
      20,
    );
    await attendance.kill('SIGKILL');
    expect(atKill).toBeLessThan(big.sessions.length);
    attendance = await startAttendance();
    const got = await outputs(big);
    expectExactlyOnce(big, got);
    expectExactlyOnce(next, await outputs(next));
    expect(attendance.output()).toContain('state restored from the changelog');
  });
});
