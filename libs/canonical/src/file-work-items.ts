import type { FileWorkItem } from '@zoom-pipeline/contracts';
import { type ZoomEnvelope, accountIdOf, meetingUuidOf } from '@zoom-pipeline/zoom-webhook';
import { asRecord, idString, nonEmptyString, stringOr } from './normalise';

/** Events whose `recording_files` are new files to store (ZOOM.md §4.1, §4.2). */
export const FILE_EVENTS: ReadonlySet<string> = new Set(['recording.completed', 'recording.transcript_completed']);

export type FileSkipReason =
  | 'not_an_object'
  | 'meeting_uuid_missing'
  | 'file_id_missing'
  | 'download_url_missing'
  | 'file_size_invalid'
  | 'duplicate_file_id';

export interface SkippedFile {
  fileId?: string;
  reason: FileSkipReason;
}

export interface FileWorkItemsInput {
  envelope: ZoomEnvelope;
  canonicalId: string;
  app: string;
  /** ISO time the download token was received (tokens live 24 h from then). */
  tokenReceivedAt: string;
  /** Token to download with; defaults to the envelope's own `download_token`. */
  downloadToken?: string;
}

export interface FileWorkItems {
  items: FileWorkItem[];
  /** Entries that cannot be stored, for the caller to log and count; never silently dropped. */
  skipped: SkippedFile[];
}

/**
 * One `zoom.recording.files` work item per file of a recording event, from `recording_files` and then
 * `participant_audio_files`. A file needs an `id` (its identity), a `download_url` and an integer `file_size`
 * (invariant 4 compares the stored bytes with it; there is no honest value to put in its place), else it is
 * skipped with a reason. Other events give no items.
 */
export function fileWorkItems(input: FileWorkItemsInput): FileWorkItems {
  const { envelope } = input;
  const result: FileWorkItems = { items: [], skipped: [] };
  if (!FILE_EVENTS.has(envelope.event)) return result;
  const object = asRecord(envelope.payload.object);
  if (object === undefined) return result;

  const files = [...arrayOf(object.recording_files), ...arrayOf(object.participant_audio_files)];
  const meetingUuid = meetingUuidOf(envelope);
  const downloadToken = input.downloadToken ?? envelope.download_token;
  const seen = new Set<string>();

  for (const entry of files) {
    const file = asRecord(entry);
    if (file === undefined) {
      result.skipped.push({ reason: 'not_an_object' });
      continue;
    }
    const fileId = idString(file.id);
    const skip = (reason: FileSkipReason): void => {
      result.skipped.push(fileId === undefined ? { reason } : { fileId, reason });
    };
    if (fileId === undefined) skip('file_id_missing');
    else if (meetingUuid === undefined) skip('meeting_uuid_missing');
    else if (nonEmptyString(file.download_url) === undefined) skip('download_url_missing');
    else if (!isFileSize(file.file_size)) skip('file_size_invalid');
    else if (seen.has(fileId)) skip('duplicate_file_id');
    else {
      seen.add(fileId);
      const item: FileWorkItem = {
        v: 1,
        fileId,
        canonicalId: input.canonicalId,
        app: input.app,
        accountId: accountIdOf(envelope) ?? '',
        meetingUuid,
        meetingId: idString(object.id) ?? '',
        topic: stringOr(object.topic, ''),
        hostId: stringOr(object.host_id, ''),
        meetingStartTime: stringOr(object.start_time, ''),
        recordingStart: stringOr(file.recording_start, ''),
        recordingEnd: stringOr(file.recording_end, ''),
        fileType: stringOr(file.file_type, ''),
        fileExtension: stringOr(file.file_extension, ''),
        fileSize: file.file_size as number,
        downloadUrl: file.download_url as string,
        tokenReceivedAt: input.tokenReceivedAt,
      };
      if (typeof file.recording_type === 'string') item.recordingType = file.recording_type;
      if (downloadToken !== undefined) item.downloadToken = downloadToken;
      result.items.push(item);
    }
  }
  return result;
}

function arrayOf(value: unknown): unknown[] {
  return Array.isArray(value) ? (value as unknown[]) : [];
}

function isFileSize(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
