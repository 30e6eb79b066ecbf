import { type ZoomEnvelope, accountIdOf, meetingUuidOf } from './envelope';

/** Key for `zoom.webhooks.raw`, `zoom.events` and `zoom.webhooks.duplicates` when an envelope has neither. */
export const UNKEYED_PARTITION = 'unkeyed';

/**
 * Kafka key (SPEC §5): the meeting, webinar or Video SDK session instance UUID, else the account id. Every event
 * of one instance, including its RTMS events (`meeting_uuid`, `webinar_uuid`, `session_id`), lands in one
 * partition and keeps its order.
 */
export function partitionKey(envelope: ZoomEnvelope): string {
  return meetingUuidOf(envelope) ?? accountIdOf(envelope) ?? UNKEYED_PARTITION;
}
