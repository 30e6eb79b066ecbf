import { createHash } from 'node:crypto';
import type { DownloadPair, FileWorkItem, UploadFailure } from '@zoom-pipeline/contracts';
import { type ZoomEnvelope, accountIdOf, meetingUuidOf } from '@zoom-pipeline/zoom-webhook';
import { canonicalJson, withoutVolatile } from './canonical-json';
import { asRecord, idString, nonEmptyString, stringOr } from './normalise';

/** Events whose `recording_files` are new files to store (docs/ZOOM-PLATFORM.md; Video SDK sessions included). */
export const FILE_EVENTS: ReadonlySet<string> = new Set([
  'recording.completed',
  'recording.transcript_completed',
  'session.recording_completed',
  'session.recording_transcript_completed',
]);

/** A file entry that is not queued because an earlier entry of the same event is the same file. */
export type FileSkipReason = 'duplicate_entry';

export interface SkippedFile {
  fileId: string;
  reason: FileSkipReason;
}

/** Another delivery (simultaneous copy) of the same occurrence, for its own URL/token pairs. */
export interface DeliveryCopy {
  envelope: ZoomEnvelope;
  /** ISO time that copy was received. */
  receivedAt: string;
}

export interface FileWorkItemsInput {
  /** The delivery that became canonical: its URLs go with its own `download_token` only. */
  envelope: ZoomEnvelope;
  canonicalId: string;
  app: string;
  /** ISO time the canonical delivery was received (its token lives 24 h from then). */
  tokenReceivedAt: string;
  /** The other copies of this occurrence seen in the same batch: their pairs become `alternates`. */
  copies?: readonly DeliveryCopy[];
  /** ISO time for `failedAt` of the failures below (domain code reads no clock); default `tokenReceivedAt`. */
  failedAt?: string;
  /** The app user linked to the recording's host or account (accounts feature). */
  appUserId?: string;
}

export interface FileWorkItems {
  items: FileWorkItem[];
  /**
   * Files that can never be fetched (no `download_url`, not an object, no instance UUID): for `zoom.recording.failed`.
   */
  failures: UploadFailure[];
  /** Entries that repeat an earlier entry of the same event verbatim (same file): stored once, counted. */
  skipped: SkippedFile[];
}

interface Entry {
  record?: Record<string, unknown>;
  /** `recording_files[3]`, for the failure of an entry that is not an object. */
  position: string;
  fileId?: string;
}

/**
 * One `zoom.recording.files` work item per file of a recording event, from `recording_files` and then
 * `participant_audio_files`. Nothing is dropped silently: a file is queued (possibly flagged `sizeUnknown` or with
 * a `fileStatus` that is not final), reported as a failure with a reason, or skipped as a verbatim repeat of an
 * entry already queued. Other events give nothing.
 */
export function fileWorkItems(input: FileWorkItemsInput): FileWorkItems {
  const { envelope } = input;
  const result: FileWorkItems = { items: [], failures: [], skipped: [] };
  if (!FILE_EVENTS.has(envelope.event)) return result;
  const object = asRecord(envelope.payload.object);
  if (object === undefined) return result;

  const meetingUuid = meetingUuidOf(envelope);
  const entries = identify(object, meetingUuid);
  const alternates = alternatePairs(input, entries);
  const failedAt = input.failedAt ?? input.tokenReceivedAt;
  const fail = (fileId: string, reason: UploadFailure['reason'], message: string, item?: FileWorkItem): void => {
    const failure: UploadFailure = {
      v: 1,
      fileId,
      canonicalId: input.canonicalId,
      reason,
      message,
      attempts: 0,
      failedAt,
    };
    if (item !== undefined) failure.item = item;
    result.failures.push(failure);
  };

  const queued = new Set<string>();
  for (const entry of entries) {
    const file = entry.record;
    if (file === undefined || entry.fileId === undefined) {
      fail(`${input.canonicalId}:${entry.position}`, 'file_entry_invalid', `${entry.position} is not an object`);
      continue;
    }
    if (queued.has(entry.fileId)) {
      // identify() only repeats an id for entries that are equal but for URLs: the same file listed twice.
      result.skipped.push({ fileId: entry.fileId, reason: 'duplicate_entry' });
      continue;
    }
    queued.add(entry.fileId);

    const downloadUrl = nonEmptyString(file.download_url);
    const item: FileWorkItem = {
      v: 1,
      fileId: entry.fileId,
      canonicalId: input.canonicalId,
      app: input.app,
      accountId: accountIdOf(envelope) ?? '',
      meetingUuid: meetingUuid ?? '',
      meetingId: idString(object.id) ?? idString(object.session_key) ?? '',
      topic: stringOr(object.topic, stringOr(object.session_name, '')),
      hostId: stringOr(object.host_id, ''),
      meetingStartTime: stringOr(object.start_time, ''),
      recordingStart: stringOr(file.recording_start, ''),
      recordingEnd: stringOr(file.recording_end, ''),
      fileType: stringOr(file.file_type, ''),
      fileExtension: stringOr(file.file_extension, ''),
      fileSize: isFileSize(file.file_size) ? file.file_size : 0,
      downloadUrl: downloadUrl ?? '',
      tokenReceivedAt: input.tokenReceivedAt,
    };
    const zoomFileId = idString(file.id);
    if (zoomFileId !== undefined) item.zoomFileId = zoomFileId;
    // CC, TIMELINE and some CHAT entries come without file_size: stream them without a known length.
    if (!isFileSize(file.file_size)) item.sizeUnknown = true;
    const status = nonEmptyString(file.status);
    if (status !== undefined && status !== 'completed') item.fileStatus = status;
    if (typeof file.recording_type === 'string') item.recordingType = file.recording_type;
    if (input.appUserId !== undefined) item.appUserId = input.appUserId;

    if (meetingUuid === undefined) {
      fail(entry.fileId, 'file_entry_invalid', 'the recording event names no meeting, webinar or session UUID', item);
      continue;
    }
    if (downloadUrl === undefined) {
      fail(
        entry.fileId,
        'download_url_missing',
        `the ${item.fileType || 'recording'} file has no download_url in the recording event`,
        item,
      );
      continue;
    }
    if (envelope.download_token !== undefined) item.downloadToken = envelope.download_token;
    const others = alternates.get(entry.fileId);
    if (others !== undefined && others.length > 0) item.alternates = others;
    result.items.push(item);
  }
  return result;
}

/**
 * The identity of every file entry, stable across retries and simultaneous copies (built from fields that do not
 * differ between copies, in the order Zoom lists them):
 * - Zoom's `id` when no other entry of the event has it;
 * - entries sharing an `id` but differing in type, extension or times (Zoom's published example has a participant
 *   audio file whose id repeats a recording file's): `<id>~<digest of those fields>`, so both are stored;
 * - no `id` (CC, older TIMELINE): `derived-<digest of instance UUID, type, extension, start, end>`;
 * - a clash left after that between entries that still differ (e.g. two id-less CC files with the same times):
 *   `~2`, `~3` in list order. Entries equal but for their URLs keep one id: they are one file listed twice.
 */
function identify(object: Record<string, unknown>, meetingUuid: string | undefined): Entry[] {
  const entries: Entry[] = [];
  for (const list of ['recording_files', 'participant_audio_files'] as const) {
    const files = Array.isArray(object[list]) ? (object[list] as unknown[]) : [];
    files.forEach((f, i) => entries.push({ record: asRecord(f), position: `${list}[${i}]` }));
  }
  const descriptor = (r: Record<string, unknown>): unknown[] => [
    r.file_type ?? null,
    r.file_extension ?? null,
    r.recording_start ?? null,
    r.recording_end ?? null,
  ];

  const descriptorsById = new Map<string, Set<string>>();
  for (const e of entries) {
    const id = e.record && idString(e.record.id);
    if (id === undefined || e.record === undefined) continue;
    const set = descriptorsById.get(id) ?? new Set<string>();
    set.add(JSON.stringify(descriptor(e.record)));
    descriptorsById.set(id, set);
  }

  const taken = new Map<string, string>();
  for (const e of entries) {
    if (e.record === undefined) continue;
    const id = idString(e.record.id);
    let fileId: string;
    if (id === undefined) fileId = `derived-${digest([meetingUuid ?? null, ...descriptor(e.record)]).slice(0, 32)}`;
    else if ((descriptorsById.get(id)?.size ?? 0) > 1) fileId = `${id}~${digest(descriptor(e.record)).slice(0, 16)}`;
    else fileId = id;

    const json = canonicalJson(withoutVolatile(e.record));
    let candidate = fileId;
    for (let n = 2; taken.has(candidate) && taken.get(candidate) !== json; n++) candidate = `${fileId}~${n}`;
    e.fileId = candidate;
    if (!taken.has(candidate)) taken.set(candidate, json);
  }
  return entries;
}

/** For each file id, the other copies' own (URL, token) pairs that differ from the canonical delivery's. */
function alternatePairs(input: FileWorkItemsInput, own: Entry[]): Map<string, DownloadPair[]> {
  const out = new Map<string, DownloadPair[]>();
  const ownPairs = new Set(
    own.map((e) =>
      JSON.stringify([nonEmptyString(e.record?.download_url) ?? null, input.envelope.download_token ?? null]),
    ),
  );
  for (const copy of input.copies ?? []) {
    const object = asRecord(copy.envelope.payload.object);
    if (object === undefined) continue;
    const token = copy.envelope.download_token;
    for (const e of identify(object, meetingUuidOf(copy.envelope))) {
      const url = nonEmptyString(e.record?.download_url);
      if (url === undefined || e.fileId === undefined) continue;
      const pairKey = JSON.stringify([url, token ?? null]);
      const list = out.get(e.fileId) ?? [];
      if (
        ownPairs.has(pairKey) ||
        list.some((p) => JSON.stringify([p.downloadUrl, p.downloadToken ?? null]) === pairKey)
      )
        continue;
      const pair: DownloadPair = { downloadUrl: url, receivedAt: copy.receivedAt };
      if (token !== undefined) pair.downloadToken = token;
      list.push(pair);
      out.set(e.fileId, list);
    }
  }
  return out;
}

function digest(parts: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts), 'utf8').digest('hex');
}

function isFileSize(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
