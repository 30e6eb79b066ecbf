import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { loadFixture } from './fixtures';

/* ------------------------------------------------------------------------------------------------------
 * Generic builder
 * ---------------------------------------------------------------------------------------------------- */

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v);
}

/**
 * Deep merge for payload overrides. Objects merge key by key; arrays and scalars replace (a partial
 * `recording_files` array merged by index would silently keep stale files); an override of `undefined`
 * deletes the key (e.g. a `recording.completed` without `download_token`). Existing keys keep their
 * position and new keys go last, so Zoom's key order, and thus the compact bytes, stay realistic.
 * Neither input is modified.
 */
export function deepMerge(base: Record<string, unknown>, overrides: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(base);
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) {
      delete out[key];
    } else if (isPlainObject(value) && isPlainObject(out[key])) {
      out[key] = deepMerge(out[key] as Record<string, unknown>, value);
    } else {
      out[key] = structuredClone(value);
    }
  }
  return out;
}

/** A fixture with overrides deep-merged into it (see deepMerge for the rules). */
export function buildPayload(name: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return deepMerge(loadFixture(name), overrides);
}

/* ------------------------------------------------------------------------------------------------------
 * Identifiers in Zoom's formats
 * ---------------------------------------------------------------------------------------------------- */

/** A meeting instance UUID as Zoom writes it: 16 random bytes in standard base64 (may hold `/`, `+`). */
export function zoomMeetingUuid(): string {
  return randomBytes(16).toString('base64');
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * A valid meeting UUID that starts with `/` and contains `//` (and a `+`): the shape that needs double
 * URL-encoding in REST paths and sanitising in S3 keys (docs/ZOOM-FACTS.md §5, §9). Random UUIDs hit it rarely, so
 * tests that care ask for it explicitly.
 */
export function awkwardMeetingUuid(): string {
  const chars = Array.from(randomBytes(22), (b) => B64[b % 64]!);
  chars[0] = '/';
  chars[7] = '/';
  chars[8] = '/';
  chars[12] = '+';
  // 16 bytes = 128 bits = 21 full sextets + 2 bits: the 22nd character may only carry its top 2 bits,
  // or the string is not the canonical base64 of any 16 bytes.
  chars[21] = 'AQgw'[randomInt(4)]!;
  const uuid = `${chars.join('')}==`;
  if (Buffer.from(uuid, 'base64').toString('base64') !== uuid) throw new Error('zoom-sim: bad awkward UUID');
  return uuid;
}

/** A meeting number (11 digits, like the fixtures' 85746065123). */
export function zoomMeetingNumber(): number {
  return randomInt(80_000_000_000, 99_999_999_999);
}

/** A Zoom-style opaque id (account, host, user ids look like 22 base64url characters). */
export function zoomOpaqueId(): string {
  return randomBytes(16).toString('base64url');
}

/**
 * A JWT-shaped but fake download token (like the fixtures'): header.claims.signature in base64url. Zoom's
 * tokens are opaque to us; only their shape matters for logging/redaction tests.
 */
export function fakeDownloadToken(): string {
  const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
  const claims = Buffer.from(
    JSON.stringify({ sub: 'zoom-sim-download-token', jti: randomUUID(), exp: Math.floor(Date.now() / 1000) + 86_400 }),
  ).toString('base64url');
  return `${header}.${claims}.${randomBytes(32).toString('base64url')}`;
}

/** ISO 8601 UTC without milliseconds, as Zoom writes `start_time`, `join_time`, `recording_start`. */
export function zoomTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/* ------------------------------------------------------------------------------------------------------
 * Typed scenario helpers. Each literal below follows the key order of the matching fixture (checked by
 * a test), because the key order is part of the bytes that get signed.
 * ---------------------------------------------------------------------------------------------------- */

/**
 * A `recording_files[]` entry. Zoom documents CC and older TIMELINE entries without `id`, `file_size`, `status`
 * and `recording_type`, and CHAT entries without `file_size` (docs/ZOOM-PLATFORM.md): those members are optional.
 */
export interface ZoomRecordingFile {
  id?: string;
  meeting_id: string;
  recording_start: string;
  recording_end: string;
  file_type: string;
  file_extension: string;
  file_size?: number;
  play_url?: string;
  download_url?: string;
  status?: string;
  recording_type?: string;
}

/** Optional members of a recording file entry that Zoom may leave out. */
export type OptionalFileField = 'id' | 'file_size' | 'status' | 'recording_type' | 'play_url' | 'download_url';
export const OPTIONAL_FILE_FIELDS: readonly OptionalFileField[] = [
  'id',
  'file_size',
  'status',
  'recording_type',
  'play_url',
  'download_url',
];

export interface RecordingCompletedEvent {
  payload: {
    account_id: string;
    object: {
      uuid: string;
      id: number;
      account_id: string;
      host_id: string;
      topic: string;
      type: number;
      start_time: string;
      timezone: string;
      host_email: string;
      duration: number;
      total_size: number;
      recording_count: number;
      share_url: string;
      recording_files: ZoomRecordingFile[];
      participant_audio_files?: ZoomRecordingFile[];
      password: string;
      recording_play_passcode: string;
      on_prem: boolean;
    };
  };
  event_ts: number;
  event: 'recording.completed';
  download_token?: string;
}

export interface RecordingFileSpec {
  /** Zoom file id (lowercase UUID); random when absent. Use the DownloadServer's fileId to make it downloadable. */
  id?: string;
  /** MP4 (default), M4A, TRANSCRIPT, CHAT, CC, CSV, TIMELINE, SUMMARY or anything else (open set). */
  fileType?: string;
  fileExtension?: string;
  recordingType?: string;
  size: number;
  recordingStart?: string;
  recordingEnd?: string;
  /** Use this URL as is instead of `<downloadBaseUrl>/rec/webhook_download/<id>/<opaque>`. */
  downloadUrl?: string;
  /** Zoom's `status` (default `completed`), e.g. `processing`. */
  status?: string;
  /**
   * Members to leave out, as Zoom does for CC/TIMELINE (`id`, `file_size`, `status`) or some CHAT files (`file_size`).
   */
  omit?: readonly OptionalFileField[];
  /** Put the entry in `participant_audio_files` instead of `recording_files`. */
  participantAudio?: boolean;
}

export interface RecordingCompletedOptions {
  /** Base URL of the simulator's download server (DownloadServer.url), without a trailing slash. */
  downloadBaseUrl: string;
  /** Default: one 1 MiB MP4. */
  files?: RecordingFileSpec[];
  meetingUuid?: string;
  meetingId?: number;
  accountId?: string;
  hostId?: string;
  hostEmail?: string;
  topic?: string;
  /** Meeting start, epoch ms; default: `durationMinutes` before `eventTs`. */
  startTimeMs?: number;
  durationMinutes?: number;
  timezone?: string;
  /** Top-level download_token; pass `null` to leave it out (it is optional on some recording events). */
  downloadToken?: string | null;
  /** event_ts in epoch ms; default Date.now(). */
  eventTs?: number;
}

const FILE_TYPE_DEFAULTS: Record<string, { ext: string; recordingType: string; playable: boolean }> = {
  MP4: { ext: 'MP4', recordingType: 'shared_screen_with_speaker_view', playable: true },
  M4A: { ext: 'M4A', recordingType: 'audio_only', playable: true },
  TRANSCRIPT: { ext: 'VTT', recordingType: 'audio_transcript', playable: true },
  CC: { ext: 'VTT', recordingType: 'closed_caption', playable: true },
  CHAT: { ext: 'TXT', recordingType: 'chat_file', playable: false },
  CSV: { ext: 'CSV', recordingType: 'poll', playable: false },
  TIMELINE: { ext: 'JSON', recordingType: 'timeline', playable: false },
  SUMMARY: { ext: 'JSON', recordingType: 'summary', playable: false },
};

function stripTrailingSlash(url: string): string {
  return url.endsWith('/') ? url.slice(0, -1) : url;
}

/** The webhook download URL form (docs/ZOOM-FACTS.md §4.1): `/rec/webhook_download/<file id>/<opaque>`. */
export function webhookDownloadUrl(
  baseUrl: string,
  fileId: string,
  opaque: string = randomBytes(12).toString('base64url'),
): string {
  return `${stripTrailingSlash(baseUrl)}/rec/webhook_download/${encodeURIComponent(fileId)}/${opaque}`;
}

/** A realistic `recording.completed` whose download URLs point at the simulator. */
export function recordingCompleted(opts: RecordingCompletedOptions): RecordingCompletedEvent {
  const eventTs = opts.eventTs ?? Date.now();
  const durationMinutes = opts.durationMinutes ?? 60;
  const startMs = opts.startTimeMs ?? eventTs - durationMinutes * 60_000 - 120_000;
  const meetingUuid = opts.meetingUuid ?? zoomMeetingUuid();
  const accountId = opts.accountId ?? zoomOpaqueId();
  const specs = opts.files ?? [{ fileType: 'MP4', size: 1_048_576 }];
  const built = specs.map((f): ZoomRecordingFile => {
    const fileType = f.fileType ?? 'MP4';
    const defaults = FILE_TYPE_DEFAULTS[fileType] ?? {
      ext: fileType,
      recordingType: fileType.toLowerCase(),
      playable: false,
    };
    const id = f.id ?? randomUUID();
    const file: ZoomRecordingFile = {
      id,
      meeting_id: meetingUuid,
      recording_start: f.recordingStart ?? zoomTime(startMs + 5_000),
      recording_end: f.recordingEnd ?? zoomTime(startMs + durationMinutes * 60_000 + 66_000),
      file_type: fileType,
      file_extension: f.fileExtension ?? defaults.ext,
      file_size: f.size,
      play_url: `https://us06web.zoom.us/rec/play/${randomBytes(24).toString('base64url')}`,
      download_url: f.downloadUrl ?? webhookDownloadUrl(opts.downloadBaseUrl, id),
      status: f.status ?? 'completed',
      recording_type: f.recordingType ?? defaults.recordingType,
    };
    // CHAT and TIMELINE entries carry no play_url in the captures (docs/ZOOM-FACTS.md §4.1, §9).
    if (!defaults.playable) delete file.play_url;
    for (const field of f.omit ?? []) delete file[field];
    return file;
  });
  const files = built.filter((_f, i) => specs[i]?.participantAudio !== true);
  const audio = built.filter((_f, i) => specs[i]?.participantAudio === true);
  const event: RecordingCompletedEvent = {
    payload: {
      account_id: accountId,
      object: {
        uuid: meetingUuid,
        id: opts.meetingId ?? zoomMeetingNumber(),
        account_id: accountId,
        host_id: opts.hostId ?? zoomOpaqueId(),
        topic: opts.topic ?? 'Quarterly planning — Reunión Q1',
        type: 2,
        start_time: zoomTime(startMs),
        timezone: opts.timezone ?? 'Europe/Berlin',
        host_email: opts.hostEmail ?? 'host.owner@example.com',
        duration: durationMinutes,
        total_size: built.reduce((sum, f) => sum + (f.file_size ?? 0), 0),
        recording_count: files.length,
        share_url: `https://us06web.zoom.us/rec/share/${randomBytes(24).toString('base64url')}`,
        recording_files: files,
        password: randomBytes(6).toString('base64url'),
        recording_play_passcode: randomBytes(32).toString('base64url'),
        on_prem: false,
      },
    },
    event_ts: eventTs,
    event: 'recording.completed',
  };
  if (audio.length > 0) event.payload.object.participant_audio_files = audio;
  if (opts.downloadToken !== null) event.download_token = opts.downloadToken ?? fakeDownloadToken();
  return event;
}

/** Video SDK `session.recording_completed` (Rivet's Video SDK types): the files of a session, keyed by `session_id`. */
export interface SessionRecordingCompletedEvent {
  download_token?: string;
  event: 'session.recording_completed';
  event_ts: number;
  payload: {
    account_id: string;
    object: {
      session_id: string;
      session_name: string;
      session_key: string;
      start_time: string;
      timezone: string;
      recording_files: ZoomRecordingFile[];
      participant_audio_files?: ZoomRecordingFile[];
    };
  };
}

export interface SessionRecordingCompletedOptions extends Omit<
  RecordingCompletedOptions,
  'meetingUuid' | 'meetingId' | 'hostId' | 'hostEmail'
> {
  sessionId?: string;
  sessionKey?: string;
}

/**
 * A realistic `session.recording_completed`: the same file entries as recordingCompleted, under a Video SDK session.
 */
export function sessionRecordingCompleted(opts: SessionRecordingCompletedOptions): SessionRecordingCompletedEvent {
  const sessionId = opts.sessionId ?? zoomMeetingUuid();
  const meeting = recordingCompleted({ ...opts, meetingUuid: sessionId });
  const o = meeting.payload.object;
  // Rivet's type lists download_token first; keep that order (the key order is part of the signed bytes).
  const event: SessionRecordingCompletedEvent = {
    ...(meeting.download_token !== undefined ? { download_token: meeting.download_token } : {}),
    event: 'session.recording_completed',
    event_ts: meeting.event_ts,
    payload: {
      account_id: meeting.payload.account_id,
      object: {
        session_id: sessionId,
        session_name: o.topic,
        session_key: opts.sessionKey ?? `key-${randomInt(1_000_000)}`,
        start_time: o.start_time,
        timezone: o.timezone,
        recording_files: o.recording_files,
      },
    },
  };
  if (o.participant_audio_files !== undefined) event.payload.object.participant_audio_files = o.participant_audio_files;
  return event;
}

export type RtmsProduct = 'meeting' | 'webinar' | 'session';

export interface RtmsEvent {
  event: `${RtmsProduct}.rtms_started` | `${RtmsProduct}.rtms_stopped`;
  event_ts: number;
  payload: Record<string, unknown>;
}

export interface RtmsEventOptions {
  product: RtmsProduct;
  /** Default `started`. */
  phase?: 'started' | 'stopped';
  /** The meeting/webinar instance UUID or the Video SDK session id. */
  instanceId?: string;
  streamId?: string;
  accountId?: string;
  /** Put the fields in `payload.object` (newer payloads) instead of directly in `payload` (the fixtures' form). */
  nested?: boolean;
  eventTs?: number;
}

/**
 * An RTMS started/stopped event for a meeting (`meeting_uuid`), a webinar (`webinar_uuid`) or a Video SDK session
 * (`session_id`), following the meeting.rtms_* fixtures' key order.
 */
export function rtmsEvent(opts: RtmsEventOptions): RtmsEvent {
  const idField = { meeting: 'meeting_uuid', webinar: 'webinar_uuid', session: 'session_id' }[opts.product];
  const phase = opts.phase ?? 'started';
  const fields: Record<string, unknown> = { [idField]: opts.instanceId ?? zoomMeetingUuid() };
  if (phase === 'started') fields.operator_id = zoomOpaqueId();
  fields.rtms_stream_id = opts.streamId ?? randomBytes(16).toString('hex');
  if (phase === 'started') fields.server_urls = 'wss://rtms.zoom.us';
  else fields.stop_reason = 6;
  const accountId = opts.accountId ?? zoomOpaqueId();
  return {
    event: `${opts.product}.rtms_${phase}`,
    event_ts: opts.eventTs ?? Date.now(),
    payload: opts.nested === true ? { account_id: accountId, object: fields } : { account_id: accountId, ...fields },
  };
}

export interface MeetingEventObject {
  duration: number;
  start_time: string;
  timezone: string;
  topic: string;
  /** A string in meeting events, a number in recording events (docs/ZOOM-FACTS.md §4.1 type drift). */
  id: string;
  type: number;
  uuid: string;
  host_id: string;
  host_email: string;
}

export interface MeetingStartedEvent {
  event: 'meeting.started';
  payload: { account_id: string; object: MeetingEventObject };
  event_ts: number;
}

export interface MeetingStartedOptions {
  meetingUuid?: string;
  meetingId?: string | number;
  accountId?: string;
  hostId?: string;
  hostEmail?: string;
  topic?: string;
  startTimeMs?: number;
  eventTs?: number;
}

export function meetingStarted(opts: MeetingStartedOptions = {}): MeetingStartedEvent {
  const eventTs = opts.eventTs ?? Date.now();
  return {
    event: 'meeting.started',
    payload: {
      account_id: opts.accountId ?? zoomOpaqueId(),
      object: {
        duration: 60,
        start_time: zoomTime(opts.startTimeMs ?? eventTs - 1_000),
        timezone: 'Europe/Berlin',
        topic: opts.topic ?? 'Quarterly planning — Reunión Q1',
        id: String(opts.meetingId ?? zoomMeetingNumber()),
        type: 2,
        uuid: opts.meetingUuid ?? zoomMeetingUuid(),
        host_id: opts.hostId ?? zoomOpaqueId(),
        host_email: opts.hostEmail ?? 'host.owner@example.com',
      },
    },
    event_ts: eventTs,
  };
}

export interface ZoomParticipant {
  public_ip: string;
  user_id: string;
  user_name: string;
  participant_user_id: string;
  id: string;
  join_time: string;
  email: string;
  participant_uuid: string;
}

export interface ParticipantJoinedEvent {
  payload: {
    account_id: string;
    object: {
      uuid: string;
      participant: ZoomParticipant;
      id: string;
      type: number;
      topic: string;
      host_id: string;
      duration: number;
      start_time: string;
      timezone: string;
    };
  };
  event_ts: number;
  event: 'meeting.participant_joined';
}

export interface ParticipantJoinedOptions {
  meetingUuid?: string;
  meetingId?: string | number;
  accountId?: string;
  hostId?: string;
  topic?: string;
  startTimeMs?: number;
  /** A guest has empty `id`, `participant_user_id` and `email` (docs/ZOOM-FACTS.md §9). */
  guest?: boolean;
  userName?: string;
  /** Per-instance numeric string; not a stable identity. */
  userId?: string;
  participantUuid?: string;
  joinTimeMs?: number;
  eventTs?: number;
}

export function participantJoined(opts: ParticipantJoinedOptions = {}): ParticipantJoinedEvent {
  const eventTs = opts.eventTs ?? Date.now();
  const zoomUserId = opts.guest === true ? '' : zoomOpaqueId();
  return {
    payload: {
      account_id: opts.accountId ?? zoomOpaqueId(),
      object: {
        uuid: opts.meetingUuid ?? zoomMeetingUuid(),
        participant: {
          public_ip: `198.51.100.${randomInt(1, 255)}`,
          user_id: opts.userId ?? String(randomInt(16_000_000, 17_000_000)),
          user_name: opts.userName ?? 'Dana Whitfield',
          participant_user_id: zoomUserId,
          id: zoomUserId,
          join_time: zoomTime(opts.joinTimeMs ?? eventTs - 500),
          email: opts.guest === true ? '' : 'dana.whitfield@example.com',
          participant_uuid: opts.participantUuid ?? randomUUID().toUpperCase(),
        },
        id: String(opts.meetingId ?? zoomMeetingNumber()),
        type: 2,
        topic: opts.topic ?? 'Quarterly planning — Reunión Q1',
        host_id: opts.hostId ?? zoomOpaqueId(),
        duration: 60,
        start_time: zoomTime(opts.startTimeMs ?? eventTs - 60_000),
        timezone: 'Europe/Berlin',
      },
    },
    event_ts: eventTs,
    event: 'meeting.participant_joined',
  };
}

export interface UrlValidationEvent {
  payload: { plainToken: string };
  event_ts: number;
  event: 'endpoint.url_validation';
}

/** The CRC challenge (docs/ZOOM-FACTS.md §2); plainToken looks like Zoom's 22-character example. */
export function urlValidation(
  plainToken: string = randomBytes(16).toString('base64url'),
  eventTs: number = Date.now(),
): UrlValidationEvent {
  return { payload: { plainToken }, event_ts: eventTs, event: 'endpoint.url_validation' };
}
