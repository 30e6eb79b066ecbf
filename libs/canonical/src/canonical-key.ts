import { hash } from 'node:crypto';
import { type ZoomEnvelope, meetingUuidOf } from '@zoom-pipeline/zoom-webhook';
import { canonicalJson, withStringObjectId, withoutVolatile } from './canonical-json';
import { asRecord, idString, nonEmptyString } from './normalise';

/*
 * The canonical key is a JSON array: [event, rule, ...identity parts]. JSON quoting makes the join unambiguous
 * (no separator a value could contain), and the rule name keeps a key built by one rule from ever equalling a key
 * built by another, e.g. the payload-digest fallback of a meeting.started that lacks its UUID.
 *
 * The dedup store holds claims on canonicalId(key) for DEDUP_WINDOW. Changing what goes into a key, or its
 * format, means that copies arriving after a deploy no longer match claims made before it and become second
 * canonical events: treat the format as a versioned contract and pin it in the tests.
 */

const MEETING_LIFECYCLE_EVENTS: ReadonlySet<string> = new Set([
  'meeting.started',
  'meeting.ended',
  'webinar.started',
  'webinar.ended',
]);

const PARTICIPANT_EVENTS: ReadonlyMap<string, 'join_time' | 'leave_time'> = new Map([
  ['meeting.participant_joined', 'join_time'],
  ['meeting.participant_left', 'leave_time'],
  ['webinar.participant_joined', 'join_time'],
  ['webinar.participant_left', 'leave_time'],
]);

const RTMS_EVENTS: ReadonlySet<string> = new Set([
  'meeting.rtms_started',
  'meeting.rtms_stopped',
  'webinar.rtms_started',
  'webinar.rtms_stopped',
  'session.rtms_started',
  'session.rtms_stopped',
]);

type KeyPart = string | readonly string[];

/**
 * The identity of the real occurrence behind a delivery (SPEC §6): every retry and simultaneous copy of it gives
 * the same key, built from stable fields only (never tokens, URLs, `event_ts` or tracking headers).
 *
 * When an event lacks the fields its rule needs, the key falls back to the digest of the whole body without
 * volatile fields. That fallback can only fail to merge copies that differ in some other field (a duplicate
 * event downstream); it can never merge two different occurrences, which would silently lose one.
 */
export function canonicalKey(envelope: ZoomEnvelope): string {
  return JSON.stringify(ruleKey(envelope) ?? [envelope.event, 'payload', payloadDigest(envelope)]);
}

/** The CloudEvent `id` and dedup claim for a key: the full 64-hex-character SHA-256 of the key's UTF-8 bytes. */
export function canonicalId(key: string): string {
  // One-shot hash (strings are hashed as UTF-8): no Hash object per record.
  return hash('sha256', key, 'hex');
}

function ruleKey(envelope: ZoomEnvelope): KeyPart[] | undefined {
  const { event } = envelope;
  if (MEETING_LIFECYCLE_EVENTS.has(event)) return meetingKey(envelope);
  const timeField = PARTICIPANT_EVENTS.get(event);
  if (timeField !== undefined) return participantKey(envelope, timeField);
  if (RTMS_EVENTS.has(event)) return rtmsKey(envelope);
  // Video SDK recordings (session.recording_completed, …) have the same files shape under the session's id.
  if (event.startsWith('recording.') || event.startsWith('session.recording_')) return recordingKey(envelope);
  return undefined;
}

/** A meeting instance starts and ends once: its UUID is the occurrence. */
function meetingKey(envelope: ZoomEnvelope): KeyPart[] | undefined {
  const uuid = meetingUuidOf(envelope);
  return uuid === undefined ? undefined : [envelope.event, 'meeting', uuid];
}

/**
 * One join or leave of one person. `user_id` changes between a join and a leave of the same person and is
 * reused, so the join/leave time is always part of the key: a rejoin is a new occurrence, a late retry of the old
 * `participant_left` is not (docs/USER-REPORTS.md #2). Which identity field was used is part of the key too.
 */
function participantKey(envelope: ZoomEnvelope, timeField: 'join_time' | 'leave_time'): KeyPart[] | undefined {
  const uuid = meetingUuidOf(envelope);
  const participant = asRecord(asRecord(envelope.payload.object)?.participant);
  const time = nonEmptyString(participant?.[timeField]);
  if (uuid === undefined || participant === undefined || time === undefined) return undefined;
  for (const field of ['participant_uuid', 'id', 'user_id'] as const) {
    const identity = idString(participant[field]);
    if (identity !== undefined) return [envelope.event, 'participant', uuid, field, identity, time];
  }
  return undefined;
}

/**
 * A stream is opened once per `rtms_stream_id`; a second rtms_started for it would kick the live connection
 * (docs/ZOOM-FACTS.md §6).
 * Meetings name their instance `meeting_uuid`, webinars `webinar_uuid`, Video SDK sessions `session_id`, directly in
 * `payload` or in `payload.object` (docs/ZOOM-PLATFORM.md); the field name is part of the key.
 */
function rtmsKey(envelope: ZoomEnvelope): KeyPart[] | undefined {
  const { payload } = envelope;
  const object = asRecord(payload.object);
  const field = (name: string): string | undefined => nonEmptyString(payload[name]) ?? nonEmptyString(object?.[name]);
  const streamId = field('rtms_stream_id');
  if (streamId === undefined) return undefined;
  for (const name of ['meeting_uuid', 'webinar_uuid', 'session_id'] as const) {
    const instance = field(name);
    if (instance !== undefined) return [envelope.event, 'rtms', name, instance, streamId];
  }
  return undefined;
}

/**
 * A recording event is identified by its meeting instance and the set of files it carries (the simultaneous
 * copies of S10 differ only in URLs and tokens). Zoom documents CC/TIMELINE entries without an `id`; such a file
 * is represented by its non-volatile fields so that a different set of id-less files is still a different set.
 *
 * Files Zoom still reports as `processing` add a sixth part (absent otherwise, so keys of finished recordings keep
 * their format): the later event listing the same files finished is then a new occurrence whose work items store
 * them, instead of a duplicate of the unfinished one.
 */
function recordingKey(envelope: ZoomEnvelope): KeyPart[] | undefined {
  const object = asRecord(envelope.payload.object);
  const uuid = meetingUuidOf(envelope);
  const recordingFiles = object?.recording_files;
  if (uuid === undefined || object === undefined || !Array.isArray(recordingFiles)) return undefined;
  const audioFiles = Array.isArray(object.participant_audio_files) ? (object.participant_audio_files as unknown[]) : [];

  const ids = new Set<string>();
  const idless = new Set<string>();
  const unfinished = new Set<string>();
  for (const file of [...(recordingFiles as unknown[]), ...audioFiles]) {
    const record = asRecord(file);
    const id = idString(record?.id);
    if (id !== undefined) ids.add(id);
    else idless.add(canonicalJson(withoutVolatile(file)));
    const status = nonEmptyString(record?.status);
    // An id-less file's status is already inside its JSON above.
    if (id !== undefined && status !== undefined && status !== 'completed')
      unfinished.add(JSON.stringify([id, status]));
  }
  const key: KeyPart[] = [envelope.event, 'recording', uuid, sortedByCodeUnit(ids), sortedByCodeUnit(idless)];
  if (unfinished.size > 0) key.push(sortedByCodeUnit(unfinished));
  return key;
}

function payloadDigest(envelope: ZoomEnvelope): string {
  return hash('sha256', canonicalJson(withoutVolatile(withStringObjectId(envelope))), 'hex');
}

function sortedByCodeUnit(values: Iterable<string>): string[] {
  // Default sort compares UTF-16 code units: the same order on every runtime and locale.
  return [...values].sort();
}
