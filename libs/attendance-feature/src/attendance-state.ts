import { randomUUID } from 'node:crypto';
import {
  type DeviceState,
  type MeetingHeader,
  MeetingTracker,
  type TrackerOptions,
} from '@zoom-pipeline/attendance-core';
import { DEFAULT_PARTITIONS, HEADERS, TOPICS } from '@zoom-pipeline/contracts';
import { type EventBus, type OutgoingMessage, partitionForKey } from '@zoom-pipeline/event-bus';

/**
 * The attendance state as a changelog (`zoom.attendance.state`, compacted), Kafka Streams style: the handler
 * writes the records it changed in the SAME transaction as its outputs and its `zoom.events` offsets, so after
 * any crash the changelog holds exactly the state that produced the committed outputs. Records (JSON):
 *   h|<meeting uuid>          {t:'h', s, p, h: MeetingHeader}           one per meeting
 *   d|<meeting uuid>|<key>    {t:'d', s, p, m, d: DeviceState} or empty one per pairing key; empty = deleted
 *   o|<source>|<partition>    {t:'o', s, p, last}                       last input offset applied, partition p
 *   barrier|<n>               {t:'b', nonce}                            restore barriers (see `readChangelog`)
 * `s` is the input topic (zoom.events; a benchmark or a second deployment on the same brokers uses another) and `p`
 * its partition the record belongs to; a restore reads only its own source's records. Empty values stand for deletions:
 * the event-bus port
 * has no null (tombstone) value, so compaction keeps one empty record per deleted key (the chart's topic adds
 * time-based deletion for those).
 */

const STATE = TOPICS.attendanceState;

export interface PartitionState {
  /** The last zoom.events offset applied (undefined: none ever was). */
  last: string | undefined;
  /** `Batch.assignment` of the last batch applied in this process; undefined when restored. */
  assignment?: string;
  meetings: Map<string, MeetingTracker>;
}

type Record_ =
  | { t: 'h'; s: string; p: number; h: MeetingHeader }
  | { t: 'd'; s: string; p: number; m: string; d: DeviceState }
  | { t: 'o'; s: string; p: number; last: string }
  | { t: 'b'; nonce: string };

const json = { [HEADERS.contentType]: 'application/json' };

export function headerRecord(s: string, p: number, h: MeetingHeader): OutgoingMessage {
  return {
    topic: STATE,
    key: `h|${h.meetingUuid}`,
    value: Buffer.from(JSON.stringify({ t: 'h', s, p, h } satisfies Record_)),
    headers: json,
  };
}

export function deviceRecord(
  s: string,
  p: number,
  meetingUuid: string,
  pk: string,
  d: DeviceState | null,
): OutgoingMessage {
  return {
    topic: STATE,
    key: `d|${meetingUuid}|${pk}`,
    value: d ? Buffer.from(JSON.stringify({ t: 'd', s, p, m: meetingUuid, d } satisfies Record_)) : Buffer.alloc(0),
    headers: json,
  };
}

export function progressRecord(s: string, p: number, last: string): OutgoingMessage {
  return {
    topic: STATE,
    key: `o|${s}|${p}`,
    value: Buffer.from(JSON.stringify({ t: 'o', s, p, last } satisfies Record_)),
    headers: json,
  };
}

/** A key that lands on changelog partition `p` (murmur2, like the Kafka producer and the file log). */
function barrierKey(p: number, partitions: number): string {
  for (let i = 0; ; i++) {
    const key = `barrier|${p}|${i}`;
    if (partitionForKey(key, partitions) === p) return key;
  }
}

export interface ChangelogReadOptions {
  bus: EventBus;
  /** The input topic whose state to rebuild. */
  source: string;
  groupPrefix: string;
  /** Partitions of the changelog topic. Default DEFAULT_PARTITIONS. */
  partitions?: number;
  timeoutMs?: number;
  tracker?: TrackerOptions;
  /** Gives up (throws) once this turns false: the consumer is stopping or lost the partition. */
  isActive?: () => boolean;
}

/**
 * Reads the whole changelog as committed now and rebuilds every partition's state. The bus port has no
 * "read a topic to its end", so: append one barrier record per changelog partition (not transactional), then
 * read from the beginning with a fresh consumer group until each partition's barrier is seen. With
 * read_committed (Kafka) a record is visible only once every transaction before it is decided, so on reaching
 * the barrier every commit made before the restore started is included; the file log writes a transaction as
 * one journal record, so the same holds there. The group never resumes (a new one per restore; it commits no
 * outputs, and Kafka drops its offsets after `offsets.retention.minutes`).
 */
export async function readChangelog(options: ChangelogReadOptions): Promise<Map<number, PartitionState>> {
  const { bus } = options;
  const n = options.partitions ?? DEFAULT_PARTITIONS[STATE];
  const nonce = randomUUID();
  await bus.publish(
    Array.from({ length: n }, (_, p) => ({
      topic: STATE,
      key: barrierKey(p, n),
      value: Buffer.from(JSON.stringify({ t: 'b', nonce } satisfies Record_)),
      headers: json,
    })),
  );
  const latest = new Map<string, Buffer>();
  const seen = new Set<number>();
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const handle = await bus.consume({
    groupId: `${options.groupPrefix}-restore-${nonce}`,
    topics: [STATE],
    fromBeginning: true,
    maxBatchSize: 5000,
    concurrentPartitions: n,
    eachBatch: async (batch) => {
      for (const m of batch.messages) {
        if (m.key === null) continue;
        if (m.key.startsWith('barrier|')) {
          if (m.value.toString('utf8').includes(nonce)) seen.add(batch.partition);
          continue;
        }
        latest.set(m.key, m.value);
      }
      if (seen.size >= n) finish();
      return { outputs: [] };
    },
  });
  let timer: NodeJS.Timeout | undefined;
  let poll: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      done,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(
                `attendance state restore: barriers of ${n - seen.size} changelog ` +
                  `partitions not seen in ${options.timeoutMs ?? 120_000} ms`,
              ),
            ),
          options.timeoutMs ?? 120_000,
        );
        poll = setInterval(() => {
          if (options.isActive && !options.isActive())
            reject(new Error('attendance state restore abandoned: the consumer is stopping'));
        }, 200);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    clearInterval(poll);
    await handle.stop();
  }
  return rebuild(latest, options.source, options.tracker);
}

/** Changelog records (latest value per key) → state per zoom.events partition. */
export function rebuild(
  latest: Map<string, Buffer>,
  source: string,
  tracker?: TrackerOptions,
): Map<number, PartitionState> {
  const parts = new Map<number, PartitionState>();
  const part = (p: number) => {
    let s = parts.get(p);
    if (!s) parts.set(p, (s = { last: undefined, meetings: new Map() }));
    return s;
  };
  const headers = new Map<string, { p: number; h: MeetingHeader }>();
  const devices = new Map<string, DeviceState[]>();
  for (const value of latest.values()) {
    if (value.length === 0) continue;
    const r = JSON.parse(value.toString('utf8')) as Record_;
    if (r.t === 'b' || r.s !== source) continue;
    if (r.t === 'o') part(r.p).last = r.last;
    else if (r.t === 'h') headers.set(r.h.meetingUuid, { p: r.p, h: r.h });
    else if (r.t === 'd') {
      const list = devices.get(r.m) ?? [];
      list.push(r.d);
      devices.set(r.m, list);
    }
  }
  for (const [uuid, { p, h }] of headers)
    part(p).meetings.set(uuid, MeetingTracker.restore(h, devices.get(uuid) ?? [], tracker));
  return parts;
}
