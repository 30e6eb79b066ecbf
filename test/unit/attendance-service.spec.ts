// The attendance consumer on the memory bus with zoom-sim meetings (unit tier: no network). Here rather than in
// libs/attendance-feature because it uses zoom-sim (type:test).
import { MemoryAttendanceStore } from '@zoom-pipeline/attendance-store';
import {
  type AttendanceMeetingSummary,
  type AttendanceSession,
  DEFAULT_PARTITIONS,
  TOPICS,
} from '@zoom-pipeline/contracts';
import {
  type Batch,
  type BatchResult,
  type EventBus,
  MemoryEventBus,
  partitionForKey,
  silentEventBusLogger,
} from '@zoom-pipeline/event-bus';
import { handlerBatch, waitForLag } from '@zoom-pipeline/event-bus/testing';
import { createLogger } from '@zoom-pipeline/telemetry';
import { type GeneratedMeeting, canonicalEventOf, generateMeeting } from '@zoom-pipeline/zoom-sim';
import { Writable } from 'node:stream';
import { AttendanceService } from '@zoom-pipeline/attendance-feature';
import type { TrackerOptions } from '@zoom-pipeline/attendance-core';

const silent = createLogger({
  name: 'test',
  level: 'silent',
  destination: new Writable({ write: (_c, _e, cb) => cb() }),
});

async function publishMeetings(bus: EventBus, meetings: GeneratedMeeting[]): Promise<void> {
  await bus.ensureTopics(
    [TOPICS.events, TOPICS.attendanceSessions, TOPICS.attendanceMeetings, TOPICS.attendanceState].map((topic) => ({
      topic,
      partitions: DEFAULT_PARTITIONS[topic],
    })),
  );
  let i = 0;
  for (const m of meetings) {
    await bus.publish(
      m.deliveries.map((d) => ({
        topic: TOPICS.events,
        key: m.meetingUuid,
        value: Buffer.from(JSON.stringify(canonicalEventOf(d, `c-${i}`, `d-${i++}`))),
      })),
    );
  }
}

async function readAll(bus: EventBus, topic: string): Promise<Buffer[]> {
  const values: Buffer[] = [];
  const handle = await bus.consume({
    groupId: `reader-${Math.random()}`,
    topics: [topic],
    eachBatch: async (b) => (values.push(...b.messages.map((m) => m.value)), { outputs: [] }),
  });
  await waitForLag(handle, 0, 10_000);
  await handle.stop();
  return values;
}

/** Runs the attendance consumer on the bus; `wrap` may fail a batch after the handler returned (a lost commit). */
async function runConsumer(
  bus: EventBus,
  store: MemoryAttendanceStore,
  until: (svc: AttendanceService) => boolean,
  wrap?: (result: BatchResult, batch: Batch) => BatchResult,
  options: TrackerOptions = { graceMs: 120_000 },
) {
  const svc = new AttendanceService(bus, store, silent, options);
  const handle = await bus.consume({
    groupId: 'zoom-pipeline-attendance',
    topics: [TOPICS.events],
    maxBatchSize: 37,
    eachBatch: async (b) => {
      const result = await svc.handleBatch(handlerBatch(b));
      return wrap ? wrap(result, b) : result;
    },
  });
  const deadline = Date.now() + 20_000;
  while (!until(svc) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  return { svc, handle };
}

function storeFor(meetings: GeneratedMeeting[]): MemoryAttendanceStore {
  const store = new MemoryAttendanceStore();
  for (const m of meetings) {
    for (const l of m.links) void store.putLink(l.zoomUserId, l.appUserId);
    for (const r of m.registrations) {
      if (r.registrantId)
        void store.putRegistration({
          meetingId: r.meetingId,
          kind: 'registrant',
          value: r.registrantId,
          appUserId: r.appUserId,
        });
      if (r.customerKey)
        void store.putRegistration({
          meetingId: r.meetingId,
          kind: 'customer_key',
          value: r.customerKey,
          appUserId: r.appUserId,
        });
      if (r.email)
        void store.putRegistration({
          meetingId: r.meetingId,
          kind: 'email',
          value: r.email.toLowerCase(),
          appUserId: r.appUserId,
        });
    }
  }
  return store;
}

const decode = <T>(values: Buffer[]) => values.map((v) => JSON.parse(v.toString('utf8')) as T);

describe('AttendanceService on the event bus (memory adapter)', () => {
  const meetings = [
    generateMeeting({ seed: 3, participants: 40 }),
    generateMeeting({ seed: 4, participants: 25 }),
    generateMeeting({ seed: 5, participants: 30 }),
  ];
  const totalEvents = meetings.reduce((n, m) => n + m.deliveries.length, 0);

  async function undisturbed() {
    const bus = new MemoryEventBus({ logger: silentEventBusLogger });
    await publishMeetings(bus, meetings);
    const { handle } = await runConsumer(bus, storeFor(meetings), (s) => s.stats.events >= totalEvents);
    await waitForLag(handle, 0, 10_000);
    await handle.stop();
    const sessions = decode<AttendanceSession>(await readAll(bus, TOPICS.attendanceSessions));
    const summaries = decode<AttendanceMeetingSummary>(await readAll(bus, TOPICS.attendanceMeetings));
    await bus.close();
    return { sessions, summaries };
  }

  it(
    'emits every generated session once, with the app users of ' +
      'registrants and linked users, and a summary per meeting',
    async () => {
      const { sessions, summaries } = await undisturbed();
      const want = meetings
        .flatMap((m) =>
          m.sessions.map(
            (s) =>
              `${m.meetingUuid}|${s.identity}|${s.room}|${new Date(s.join).toISOString()}|` +
              `${new Date(s.leave).toISOString()}|${m.people[s.person].appUserId ?? '-'}`,
          ),
        )
        .sort();
      expect(
        sessions
          .map(
            (s) =>
              `${s.meetingUuid}|${s.identity.kind}:${s.identity.value}|${s.room}|${s.joinedAt}|${s.leftAt}|` +
              `${s.appUserId ?? '-'}`,
          )
          .sort(),
      ).toEqual(want);
      expect(summaries.map((s) => s.meetingUuid).sort()).toEqual(meetings.map((m) => m.meetingUuid).sort());
    },
  );

  it(
    'a lost commit (the batch comes again after the handler returned) and a ' +
      'restart give outputs identical to an undisturbed run',
    async () => {
      const expected = await undisturbed();
      const bus = new MemoryEventBus({ logger: silentEventBusLogger, retryBackoff: { initialMs: 1, maxMs: 5 } });
      await publishMeetings(bus, meetings);
      const store = storeFor(meetings);
      // First process: every 3rd batch's commit is lost; it stops (a kill: its state is simply gone) after two
      // of those redeliveries restored the state, before the end of the meetings.
      let n = 0;
      const first = await runConsumer(
        bus,
        store,
        (s) => s.stats.restores >= 3,
        (result) => {
          if (++n % 3 === 0) {
            throw new Error('commit lost');
          }
          return result;
        },
      );
      await first.handle.stop();
      expect(first.svc.stats.restores).toBeGreaterThanOrEqual(3);
      // Second process: a new service (empty memory) restores from the changelog and finishes.
      const second = await runConsumer(bus, store, () => true);
      await waitForLag(second.handle, 0, 20_000);
      await second.handle.stop();
      expect(second.svc.stats.restores).toBe(1);
      expect(second.svc.stats.events).toBeGreaterThan(0);
      const sessions = decode<AttendanceSession>(await readAll(bus, TOPICS.attendanceSessions));
      const summaries = decode<AttendanceMeetingSummary>(await readAll(bus, TOPICS.attendanceMeetings));
      const byId = (a: AttendanceSession, b: AttendanceSession) => (a.id < b.id ? -1 : 1);
      expect(sessions.sort(byId)).toEqual(expected.sessions.sort(byId));
      expect(summaries.sort((a, b) => (a.meetingUuid < b.meetingUuid ? -1 : 1))).toEqual(
        expected.summaries.sort((a, b) => (a.meetingUuid < b.meetingUuid ? -1 : 1)),
      );
      await bus.close();
    },
    30_000,
  );

  it(
    'a large end goes out in bounded steps; lost commits and a ' + 'restart mid-end still emit it exactly once',
    async () => {
      // Everyone still in at the end: the end emits every session and the summary (parts of 10 people).
      const first = generateMeeting({ seed: 7, participants: 120, stillInAtEnd: 1, maxRejoins: 0, breakoutRate: 0 });
      let same = 0;
      const home = partitionForKey(first.meetingUuid, DEFAULT_PARTITIONS[TOPICS.events]);
      while (partitionForKey(`same-${same}`, DEFAULT_PARTITIONS[TOPICS.events]) !== home) same++;
      const big = [
        first,
        generateMeeting({ seed: 8, participants: 30, meetingUuid: `same-${same}`, startAt: first.endAt + 60_000 }),
      ];
      const events = big.reduce((n, m) => n + m.deliveries.length, 0);
      const base = { graceMs: 120_000, summaryPartSize: 10 };
      const run = async (options: TrackerOptions, lose: boolean) => {
        const bus = new MemoryEventBus({ logger: silentEventBusLogger, retryBackoff: { initialMs: 1, maxMs: 5 } });
        // One zoom.events partition: the second meeting comes after the first one's end and must still go through.
        await publishMeetings(bus, big);
        const store = storeFor(big);
        let n = 0;

        if (lose) {
          const first = await runConsumer(
            bus,
            store,
            (s) => s.stats.endSteps >= 4,
            (result) => {
              if (++n % 3 === 0) throw new Error('commit lost');
              return result;
            },
            options,
          );
          await first.handle.stop();
          expect(first.svc.stats.endSteps).toBeGreaterThanOrEqual(4);
        }
        const second = await runConsumer(bus, store, (s) => s.stats.events >= events, undefined, options);
        await waitForLag(second.handle, 0, 20_000);
        await second.handle.stop();
        const steps = second.svc.stats.endSteps;
        const sessions = decode<AttendanceSession>(await readAll(bus, TOPICS.attendanceSessions));
        const summaries = decode<AttendanceMeetingSummary>(await readAll(bus, TOPICS.attendanceMeetings));
        await bus.close();
        return { sessions, summaries, steps };
      };
      const whole = await run(base, false);
      const stepped = await run({ ...base, endStepBytes: 3000 }, true);
      expect(stepped.steps).toBeGreaterThan(5);
      const byId = (a: AttendanceSession, b: AttendanceSession) => (a.id < b.id ? -1 : 1);
      expect(new Set(stepped.sessions.map((s) => s.id)).size).toBe(stepped.sessions.length);
      expect(stepped.sessions.sort(byId)).toEqual(whole.sessions.sort(byId));
      const order = (a: AttendanceMeetingSummary, b: AttendanceMeetingSummary) =>
        a.meetingUuid < b.meetingUuid ? -1 : a.meetingUuid > b.meetingUuid ? 1 : a.part - b.part;
      expect(stepped.summaries.sort(order)).toEqual(whole.summaries.sort(order));
      expect(whole.summaries.filter((s) => s.meetingUuid === big[0].meetingUuid)).toHaveLength(12);
      expect(
        whole.sessions.filter((s) => s.meetingUuid === big[0].meetingUuid && s.flags.includes('leave_missing')),
      ).toHaveLength(big[0].sessions.length);
    },
    60_000,
  );
});
