/** What both Kafka consumers ask the group (through the bus's admin client) and how they recognise fencing. */
import { type ConsumeOptions, type OutgoingMessage } from '../event-bus.port';
import { type KafkaAdmin } from './kafka-admin';

/** Kafka errors after which a member must not commit: another member may own the partition now. */
export const FENCED = new Set(['ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'FENCED_INSTANCE_ID']);

/** Whether the group's committed offset of a partition is at or past `offset` (false when it cannot tell). */
export async function groupCommittedPast(
  admin: () => Promise<KafkaAdmin>,
  groupId: string,
  topic: string,
  partition: number,
  offset: bigint,
): Promise<boolean> {
  try {
    const committed = (await (await admin()).committedOffsets(groupId, topic)).get(partition);
    return committed !== undefined && committed >= offset;
  } catch {
    return false; // cannot tell: retry the commit (the claim check in dedup still holds)
  }
}

/** Lag per partition of a group (end offset - committed), through the admin client; shared by both consumers. */
export async function groupLag(
  getAdmin: () => Promise<KafkaAdmin>,
  options: Pick<ConsumeOptions, 'groupId' | 'topics' | 'fromBeginning'>,
): Promise<Array<{ topic: string; partition: number; lag: number }>> {
  const admin = await getAdmin();
  const result: Array<{ topic: string; partition: number; lag: number }> = [];
  for (const topic of options.topics) {
    const [committed, ranges] = await Promise.all([
      admin.committedOffsets(options.groupId, topic),
      admin.offsetRange(topic),
    ]);
    for (const [partition, range] of [...ranges].sort((a, b) => a[0] - b[0])) {
      const c = committed.get(partition) ?? -1n;
      // No commit yet: the group starts at the beginning (port default) or at the end.
      const from = c >= 0n ? c : options.fromBeginning === false ? range.high : range.low;
      result.push({ topic, partition, lag: Math.max(0, Number(range.high - from)) });
    }
  }
  return result;
}

/** Before a commit: every output topic exists (UnknownTopicError otherwise, handled like a handler throw). */
export async function assertOutputTopics(
  outputs: OutgoingMessage[],
  assertTopicsExist: (topics: string[]) => Promise<void>,
): Promise<void> {
  const topics = [...new Set(outputs.map((o) => o.topic))];
  if (topics.length > 0) await assertTopicsExist(topics);
}
