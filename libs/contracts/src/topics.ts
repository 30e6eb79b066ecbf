/** Topic names (SPEC §5). The embedded file log uses the same names. */
export const TOPICS = {
  raw: 'zoom.webhooks.raw',
  events: 'zoom.events',
  duplicates: 'zoom.webhooks.duplicates',
  files: 'zoom.recording.files',
  uploaded: 'zoom.recording.uploaded',
  failed: 'zoom.recording.failed',
  /** Records a consumer could not process, as consumed, with why in `zp-error*` headers (never dropped). */
  dead: 'zoom.webhooks.dead',
  /** Compacted, key = Zoom user id: the state of each Zoom user's link to an app user (`AccountLinkEvent`). */
  accountLinks: 'zoom.accounts.links',
  /** RTMS transcript messages, keyed by meeting/webinar/session instance, in arrival order per instance. */
  rtmsTranscripts: 'zoom.rtms.transcripts',
  /** RTMS chat messages, keyed like the transcripts. */
  rtmsChat: 'zoom.rtms.chat',
  /** Attendance: one record per closed session, key meeting UUID. */
  attendanceSessions: 'zoom.attendance.sessions',
  /** Attendance: one summary (in parts) per meeting instance at its end, key meeting UUID. */
  attendanceMeetings: 'zoom.attendance.meetings',
  /** Attendance: compacted changelog of its state, written in the same transaction as its outputs and offsets. */
  attendanceState: 'zoom.attendance.state',
} as const;

export type TopicName = (typeof TOPICS)[keyof typeof TOPICS];

/** Default partition counts; the Helm chart and the infra scripts create topics with these. */
export const DEFAULT_PARTITIONS: Record<TopicName, number> = {
  'zoom.webhooks.raw': 12,
  'zoom.events': 12,
  'zoom.webhooks.duplicates': 6,
  'zoom.recording.files': 12,
  'zoom.recording.uploaded': 6,
  'zoom.recording.failed': 3,
  // One partition where the embedded log and the test brokers created it; the chart's Strimzi topic has 3.
  'zoom.webhooks.dead': 1,
  'zoom.accounts.links': 3,
  'zoom.rtms.transcripts': 6,
  'zoom.rtms.chat': 3,
  'zoom.attendance.sessions': 6,
  'zoom.attendance.meetings': 3,
  'zoom.attendance.state': 12,
};

/** Kafka header names used across the pipeline (trace context is W3C, SPEC §5). */
export const HEADERS = {
  traceparent: 'traceparent',
  tracestate: 'tracestate',
  contentType: 'content-type',
  deliveryId: 'zp-delivery-id',
  canonicalId: 'zp-canonical-id',
  event: 'zp-event',
} as const;

/** Topics that keep only the latest record per key (Kafka log compaction): links and state read from the start. */
export const COMPACTED_TOPICS: ReadonlySet<TopicName> = new Set<TopicName>([TOPICS.accountLinks]);

/** How a service asks the bus to ensure `topic` (partitions and compaction from this file, one place). */
export function topicSpec(topic: TopicName): { topic: TopicName; partitions: number; compacted?: boolean } {
  return { topic, partitions: DEFAULT_PARTITIONS[topic], ...(COMPACTED_TOPICS.has(topic) ? { compacted: true } : {}) };
}
