/**
 * Metric label values that come from a webhook body are taken from closed sets: anything else is `other`. One
 * signed body must not be able to add series (a 5,000-character `file_type` once added 50), and a label value is
 * never an echo of what a sender chose.
 */
export const OTHER_LABEL = 'other';

/**
 * The Zoom events the pipeline knows by name (SPEC §6 rules, docs/ZOOM-FACTS.md); every other event is counted as
 * `other`.
 */
export const KNOWN_ZOOM_EVENTS: ReadonlySet<string> = new Set([
  'endpoint.url_validation',
  'app_deauthorized',
  'meeting.created',
  'meeting.updated',
  'meeting.deleted',
  'meeting.started',
  'meeting.ended',
  'meeting.participant_joined',
  'meeting.participant_left',
  'meeting.rtms_started',
  'meeting.rtms_stopped',
  'webinar.started',
  'webinar.ended',
  'webinar.participant_joined',
  'webinar.participant_left',
  'webinar.rtms_started',
  'webinar.rtms_stopped',
  'session.rtms_started',
  'session.rtms_stopped',
  'recording.started',
  'recording.stopped',
  'recording.paused',
  'recording.resumed',
  'recording.completed',
  'recording.transcript_completed',
  'recording.renamed',
  'recording.trashed',
  'recording.deleted',
  'recording.recovered',
]);

/** Zoom recording `file_type`s (docs/ZOOM-FACTS.md §4.1), upper case. */
export const KNOWN_FILE_TYPES: ReadonlySet<string> = new Set([
  'MP4',
  'M4A',
  'TIMELINE',
  'TRANSCRIPT',
  'CHAT',
  'CC',
  'CSV',
  'TB',
  'CHAT_MESSAGE',
  'SUMMARY',
]);

/** The `event` label: a known Zoom event name, else `other`. */
export function eventLabel(event: string | undefined): string {
  return event !== undefined && KNOWN_ZOOM_EVENTS.has(event) ? event : OTHER_LABEL;
}

/**
 * The `file_type` label: a known Zoom file type (compared case-insensitively, as UPLOAD_FILE_TYPES is), else `other`.
 */
export function fileTypeLabel(fileType: string | undefined): string {
  // Length first: never upper-case a megabyte to find out it is not a file type.
  if (fileType === undefined || fileType.length > 16) return OTHER_LABEL;
  const upper = fileType.toUpperCase();
  return KNOWN_FILE_TYPES.has(upper) ? upper : OTHER_LABEL;
}
