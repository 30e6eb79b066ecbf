// Attendance benchmark: a 10,000-attendee webinar with 3 rejoins each (80,000 participant events on one
// partition, as one webinar is keyed by its UUID, and its meeting.ended) through the attendance handler on real
// Kafka (platformatic consumer, outputs + state changelog + offsets in one transaction), against a pass-through
// handler (each event copied to an output topic, same transactional path) over the same events in the same run;
// the state bytes per attendee (changelog); and the end of a 10,000-person meeting with everyone still in (every
// session and the summary emitted at meeting.ended, in bounded steps). `bash scripts/infra.sh up && npm run build &&
// node dist/bench/attendance.bench.js`
import { randomUUID } from 'node:crypto';
import { MemoryAttendanceStore } from '@zoom-pipeline/attendance-store';
import { AttendanceService } from '@zoom-pipeline/attendance-feature';
import { DEFAULT_PARTITIONS, TOPICS } from '@zoom-pipeline/contracts';
import {
  type Batch,
  type BatchResult,
  type EventBus,
  type HandlerBatch,
  KafkaEventBus,
  consoleEventBusLogger,
  partitionForKey,
  silentEventBusLogger,
} from '@zoom-pipeline/event-bus';
import { createLogger } from '@zoom-pipeline/telemetry';
import { loadEndpoints } from '@zoom-pipeline/test-support';
import { canonicalEventOf, generateMeeting } from '@zoom-pipeline/zoom-sim';
import { Writable } from 'node:stream';
import { machine } from './lib/bench-util';

const ATTENDEES = Number(process.env.ATTENDANCE_BENCH_ATTENDEES ?? 10_000);

async function drain(
  bus: EventBus,
  topic: string,
  groupId: string,
  handler: (b: Batch) => Promise<BatchResult>,
): Promise<{ seconds: number }> {
  const started = process.hrtime.bigint();
  const handle = await bus.consume({ groupId, topics: [topic], maxBatchSize: 500, eachBatch: handler });
  for (;;) {
    const lag = (await handle.lag()).reduce((n, l) => n + l.lag, 0);
    const total = await handle.lag();
    if (total.length > 0 && lag === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await handle.stop();
  return { seconds };
}

export async function runAttendance(): Promise<string> {
  const { kafkaBrokers } = loadEndpoints();
  const logger = process.env.ATTENDANCE_BENCH_VERBOSE ? consoleEventBusLogger() : silentEventBusLogger;
  const bus = new KafkaEventBus({
    brokers: kafkaBrokers.split(','),
    clientId: 'attendance-bench',
    client: 'platformatic',
    publishClient: 'platformatic',
    logger,
  });
  const run = randomUUID().slice(0, 8);
  const input = `bench.attendance.in-${run}`;
  const copy = `bench.attendance.copy-${run}`;
  await bus.ensureTopics([
    { topic: input, partitions: 1 },
    { topic: copy, partitions: 1 },
    ...[TOPICS.attendanceSessions, TOPICS.attendanceMeetings, TOPICS.attendanceState].map((topic) => ({
      topic,
      partitions: DEFAULT_PARTITIONS[topic],
    })),
  ]);
  const m = generateMeeting({
    seed: 10_000,
    participants: ATTENDEES,
    exactRejoins: 3,
    duplicateRate: 0,
    stillInAtEnd: 0,
    breakoutRate: 0,
    twoDeviceRate: 0,
    mix: { guest: 0, phone: 0 },
    durationMs: 4 * 3_600_000,
    meetingUuid: `bench${run}==`,
  });
  const store = new MemoryAttendanceStore();
  for (const r of m.registrations)
    if (r.registrantId)
      await store.putRegistration({
        meetingId: r.meetingId,
        kind: 'registrant',
        value: r.registrantId,
        appUserId: r.appUserId,
      });
  for (const l of m.links) await store.putLink(l.zoomUserId, l.appUserId);
  const deliveries = m.deliveries;
  const events = deliveries.map((d, i) => ({
    topic: input,
    key: m.meetingUuid,
    value: Buffer.from(JSON.stringify(canonicalEventOf(d, `bench-${i}`, `d-${i}`))),
  }));
  // 400 per publish: under the 1 MiB record-batch limit.
  for (let i = 0; i < events.length; i += 400) await bus.publish(events.slice(i, i + 400));
  process.stderr.write(`  ${events.length} events of a ${ATTENDEES}-attendee webinar on ${input}\n`);

  // Pass-through: every input copied to an output topic, outputs + offsets in one transaction.
  const pass = process.env.ATTENDANCE_BENCH_SKIP_PASS
    ? { seconds: NaN }
    : await drain(bus, input, `bench-attendance-pass-${run}`, async (b) => ({
        outputs: b.messages.map((msg) => ({ topic: copy, key: msg.key, value: msg.value })),
      }));
  process.stderr.write(`  pass-through: ${pass.seconds.toFixed(1)} s\n`);

  const silent = createLogger({
    name: 'bench',
    level: process.env.ATTENDANCE_BENCH_VERBOSE ? 'info' : 'silent',
    destination: process.env.ATTENDANCE_BENCH_VERBOSE ? process.stderr : new Writable({ write: (_c, _e, cb) => cb() }),
  });
  const svc = new AttendanceService(bus, store, silent, { graceMs: 120_000 });
  const latest = new Map<string, number>();
  let live = 0;
  let peak = 0;
  let stateBytes = 0;
  const webinarEnd = endWatch(svc);
  const att = await drain(bus, input, `bench-attendance-${run}`, async (b) => {
    const result = await webinarEnd.batch(b);
    for (const o of result.outputs) {
      if (o.topic !== TOPICS.attendanceState || o.key === null || !o.key.startsWith('d|')) continue;
      stateBytes += o.key.length + o.value.length;
      live += o.value.length - (latest.get(o.key) ?? 0);
      latest.set(o.key, o.value.length);
    }
    peak = Math.max(peak, live);
    return result;
  });
  process.stderr.write(
    `  attendance: ${att.seconds.toFixed(1)} s, ${svc.stats.sessions} sessions, ${svc.stats.restores} restore(s)\n`,
  );

  // Everyone still in at meeting.ended: the whole meeting's sessions and summary go out at the end.
  const stillIn = generateMeeting({
    seed: 10_001,
    participants: ATTENDEES,
    maxRejoins: 0,
    duplicateRate: 0,
    stillInAtEnd: 1,
    breakoutRate: 0,
    twoDeviceRate: 0,
    mix: { guest: 0, phone: 0 },
    meetingUuid: `benchend${run}==`,
  });
  const endInput = `bench.attendance.end-${run}`;
  await bus.ensureTopics([{ topic: endInput, partitions: 1 }]);
  const endEvents = stillIn.deliveries.map((d, i) => ({
    topic: endInput,
    key: stillIn.meetingUuid,
    value: Buffer.from(JSON.stringify(canonicalEventOf(d, `bench-${i}`, `d-${i}`))),
  }));
  for (let i = 0; i < endEvents.length; i += 400) await bus.publish(endEvents.slice(i, i + 400));
  const endSvc = new AttendanceService(bus, store, silent, { graceMs: 120_000 });
  const bigEnd = endWatch(endSvc);
  const endRun = await drain(bus, endInput, `bench-attendance-end-${run}`, (b) => bigEnd.batch(b));
  process.stderr.write(`  still-in end: ${endRun.seconds.toFixed(1)} s, ${bigEnd.steps} end steps\n`);
  await bus.close();
  const mach = machine();
  return [
    `${ATTENDEES.toLocaleString('en')}-attendee webinar, 3 rejoins each (${events.length} events on one partition, ` +
      `its end included), platformatic client, ${mach.nproc} cores, node ${mach.node}; \`node ` +
      `dist/bench/attendance.bench.js\`.`,
    '',
    '| consumer | seconds | events/s |',
    '|---|---:|---:|',
    '| pass-through (copy each event, transactional) | ' +
      `${pass.seconds.toFixed(1)} | ${Math.round(events.length / pass.seconds)} |`,
    '| attendance (pairing + sessions + state changelog, transactional) | ' +
      `${att.seconds.toFixed(1)} | ${Math.round(events.length / att.seconds)} |`,
    `| attendance, ${ATTENDEES.toLocaleString('en')} still in at the end (${endEvents.length} events) | ` +
      `${endRun.seconds.toFixed(1)} | ${Math.round(endEvents.length / endRun.seconds)} |`,
    '',
    '| end | transactions (steps) | seconds | sessions | summary parts | largest step to one output partition |',
    '|---|---:|---:|---:|---:|---:|',
    webinarEnd.row('webinar (sessions emitted on the way)'),
    bigEnd.row(`${ATTENDEES.toLocaleString('en')} still in`),
    '',
    `State: at most ${Math.round(peak / ATTENDEES)} bytes of live changelog values per attendee (device records of ` +
      `open and recent connections), ${Math.round(stateBytes / ATTENDEES)} bytes written to ` +
      `\`zoom.attendance.state\` per attendee over the webinar; ${svc.stats.sessions} sessions emitted.`,
  ].join('\n');
}

/**
 * Wraps the service's handler: counts the end's steps (batches that emitted end outputs), their wall time from the
 * first step's start to the last step's return, and the largest bytes one batch sent to one output partition.
 */
function endWatch(svc: AttendanceService) {
  let steps = 0;
  let first = 0n;
  let last = 0n;
  let sessions = 0;
  let parts = 0;
  let largest = 0;
  return {
    get steps() {
      return steps;
    },
    async batch(b: Batch): Promise<BatchResult> {
      const before = svc.stats.endSteps;
      const started = process.hrtime.bigint();
      const result = await svc.handleBatch(b as HandlerBatch); // the service uses no record spans
      if (svc.stats.endSteps > before) {
        steps += svc.stats.endSteps - before;
        if (first === 0n) first = started;
        last = process.hrtime.bigint();
        const perPartition = new Map<string, number>();
        for (const o of result.outputs) {
          if (o.topic === TOPICS.attendanceState) continue;
          if (o.topic === TOPICS.attendanceSessions) sessions++;
          else parts++;
          const partitions = DEFAULT_PARTITIONS[o.topic as keyof typeof DEFAULT_PARTITIONS];
          const key = `${o.topic}|${partitionForKey(o.key ?? '', partitions)}`;
          perPartition.set(key, (perPartition.get(key) ?? 0) + o.value.length + (o.key?.length ?? 0));
        }
        largest = Math.max(largest, ...perPartition.values());
      }
      return result;
    },
    row(name: string): string {
      const seconds = Number(last - first) / 1e9;
      return (
        `| ${name} | ${steps} | ${seconds.toFixed(1)} | ${sessions} | ` +
        `${parts} | ${Math.round(largest / 1024)} KiB |`
      );
    },
  };
}

if (require.main === module) {
  runAttendance()
    .then((md) => process.stdout.write(`${md}\n`))
    .catch((err: unknown) => {
      process.stderr.write(`${(err as Error).stack}\n`);
      process.exit(1);
    });
}
