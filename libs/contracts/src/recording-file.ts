import { ContractViolation, asObject, encodeJson, num, optStr, parseJson, str } from './validate';

/**
 * One way to download a file: a delivery's `download_url` with that same delivery's `download_token`. Zoom may tie a
 * `webhook_download` URL to the token of its own delivery, so a URL is never paired with another copy's token.
 */
export interface DownloadPair {
  downloadUrl: string;
  /** A credential: never log it. Absent when that delivery carried no token. */
  downloadToken?: string;
  /** ISO time that delivery was received (its token lives 24 h from then). */
  receivedAt: string;
}

/** Value of `zoom.recording.files` (key: file id): one recording file to store. */
export interface FileWorkItem {
  v: 1;
  /**
   * The file's identity (object key `{file_id}`, Kafka key, upload lease): Zoom's `id`; for an entry without one, a
   * digest of its stable fields (`derived-…`); for entries sharing one `id`, that id plus a digest of their type,
   * extension and times (`<id>~…`). See `zoomFileId` for Zoom's own value.
   */
  fileId: string;
  /** Zoom's `id` of the file, when it has one (absent for CC/TIMELINE entries without `id`). */
  zoomFileId?: string;
  /** Canonical id of the recording event occurrence this file belongs to. */
  canonicalId: string;
  app: string;
  accountId: string;
  /** Meeting, webinar or Video SDK session instance UUID. */
  meetingUuid: string;
  /** Meeting number, normalised to a string (Video SDK: the session key, or empty). */
  meetingId: string;
  topic: string;
  hostId: string;
  meetingStartTime: string;
  recordingStart: string;
  recordingEnd: string;
  fileType: string;
  fileExtension: string;
  /** Bytes Zoom announced; 0 and meaningless when `sizeUnknown` is true. */
  fileSize: number;
  /** true: Zoom sent no usable `file_size` (CC, TIMELINE, some CHAT files): stream without a known length. */
  sizeUnknown?: true;
  /** Zoom's `status` when it is not `completed` (e.g. `processing`): the file is not final yet. */
  fileStatus?: string;
  recordingType?: string;
  /** `download_url` of the delivery that became canonical: pair it with `downloadToken` only. */
  downloadUrl: string;
  /** The download token of that same delivery (never another copy's). */
  downloadToken?: string;
  /** ISO time that delivery was received (tokens live 24 h). */
  tokenReceivedAt: string;
  /**
   * The other copies' own URL/token pairs for this file, seen in the same batch: fallbacks when the first pair gets
   * a 401. Holds credentials, so {@link decodeFileWorkItem} returns it only when asked, and
   * {@link withoutCredentials} removes it.
   */
  alternates?: DownloadPair[];
  /**
   * The app user linked to the host (or account) of this recording (accounts feature): `{app_user_id}` in object keys.
   */
  appUserId?: string;
}

const C = 'FileWorkItem';

export interface DecodeFileWorkItemOptions {
  /** Include `alternates` (other deliveries' URL/token pairs); only a consumer that pairs them correctly asks. */
  alternates?: boolean;
}

export function encodeFileWorkItem(item: FileWorkItem): Buffer {
  return encodeJson(item);
}

export function decodeFileWorkItem(bytes: Buffer | string, options: DecodeFileWorkItemOptions = {}): FileWorkItem {
  const o = asObject(C, '(value)', parseJson(C, bytes));
  if (o.v !== 1) throw new ContractViolation(C, 'v', 'must be 1');
  const fileSize = num(C, o, 'fileSize');
  if (fileSize < 0 || !Number.isInteger(fileSize))
    throw new ContractViolation(C, 'fileSize', 'must be a non-negative integer');
  if (o.sizeUnknown !== undefined && o.sizeUnknown !== true)
    throw new ContractViolation(C, 'sizeUnknown', 'must be true when present');
  const item: FileWorkItem = {
    v: 1,
    fileId: str(C, o, 'fileId'),
    canonicalId: str(C, o, 'canonicalId'),
    app: str(C, o, 'app'),
    accountId: str(C, o, 'accountId'),
    meetingUuid: str(C, o, 'meetingUuid'),
    meetingId: str(C, o, 'meetingId'),
    topic: str(C, o, 'topic'),
    hostId: str(C, o, 'hostId'),
    meetingStartTime: str(C, o, 'meetingStartTime'),
    recordingStart: str(C, o, 'recordingStart'),
    recordingEnd: str(C, o, 'recordingEnd'),
    fileType: str(C, o, 'fileType'),
    fileExtension: str(C, o, 'fileExtension'),
    fileSize,
    recordingType: optStr(C, o, 'recordingType'),
    downloadUrl: str(C, o, 'downloadUrl'),
    downloadToken: optStr(C, o, 'downloadToken'),
    tokenReceivedAt: str(C, o, 'tokenReceivedAt'),
  };
  const zoomFileId = optStr(C, o, 'zoomFileId');
  if (zoomFileId !== undefined) item.zoomFileId = zoomFileId;
  if (o.sizeUnknown === true) item.sizeUnknown = true;
  const fileStatus = optStr(C, o, 'fileStatus');
  if (fileStatus !== undefined) item.fileStatus = fileStatus;
  const appUserId = optStr(C, o, 'appUserId');
  if (appUserId !== undefined) item.appUserId = appUserId;
  if (options.alternates === true && o.alternates !== undefined) {
    if (!Array.isArray(o.alternates)) throw new ContractViolation(C, 'alternates', 'must be an array when present');
    item.alternates = (o.alternates as unknown[]).map((a, i) => {
      const pair = asObject(C, `alternates[${i}]`, a);
      const out: DownloadPair = { downloadUrl: str(C, pair, 'downloadUrl'), receivedAt: str(C, pair, 'receivedAt') };
      const token = optStr(C, pair, 'downloadToken');
      if (token !== undefined) out.downloadToken = token;
      return out;
    });
  }
  return item;
}

/** The item without any download token (its own or the alternates'), e.g. for `zoom.recording.failed`. */
export function withoutCredentials(item: FileWorkItem): Omit<FileWorkItem, 'downloadToken' | 'alternates'> {
  const { downloadToken: _token, alternates: _alternates, ...rest } = item;
  return rest;
}

/** true when no delivery of the file carried a `download_token`: only OAuth credentials can fetch it. */
export function hasNoDownloadToken(item: FileWorkItem): boolean {
  return item.downloadToken === undefined && !(item.alternates ?? []).some((a) => a.downloadToken !== undefined);
}

/**
 * The `zoom.recording.failed` message for a file no delivery gave a token for while no OAuth credentials are
 * configured: it names what to configure (the file is replayable from the failure record once it is).
 */
export const CREDENTIALS_MISSING_MESSAGE =
  'the webhook carried no download_token and no OAuth credentials are configured: set ZOOM_ACCOUNT_ID, ' +
  'ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET ' +
  ('(Server-to-Server OAuth app with a cloud recording read scope), or link a Zoom user whose OAuth token can ' +
    'read this recording; then replay this record');

/** Value of `zoom.recording.uploaded` (key: file id). */
export interface UploadResult {
  v: 1;
  fileId: string;
  canonicalId: string;
  meetingUuid: string;
  bucket: string;
  key: string;
  size: number;
  sha256: string;
  etag: string;
  durationMs: number;
  /** true when the object already existed with the same file id and size and was not uploaded again. */
  alreadyStored: boolean;
  uploadedAt: string;
}

/** Terminal failure reasons (dead letter, `zoom.recording.failed`). */
export type UploadFailureReason =
  | 'download_forbidden_host'
  | 'download_unauthorized'
  | 'download_html_response'
  | 'download_size_mismatch'
  | 'download_http_error'
  | 'download_network'
  | 'store_failed'
  | 'invalid_work_item'
  /** No delivery carried a token and no OAuth credentials are set ({@link CREDENTIALS_MISSING_MESSAGE}). */
  | 'download_credentials_missing'
  /** Zoom still reported the file as `processing` when the wait for the finished file ran out. */
  | 'file_not_completed'
  /** Published by dedup: the recording event lists the file without a `download_url`. */
  | 'download_url_missing'
  /** Published by dedup: the file entry is not an object, or the event names no meeting/session instance. */
  | 'file_entry_invalid'
  /** The object store refused the key or the metadata (a rule of the store, not an outage). */
  | 'object_key_rejected'
  | 'metadata_rejected'
  /** Another file's object already holds this key: never overwritten. */
  | 'object_key_collision'
  /** Transient failures (429/5xx, network, store or Redis down) went on past UPLOAD_RETRY_BUDGET. */
  | 'retry_budget_exhausted';

/** Value of `zoom.recording.failed` (key: file id). */
export interface UploadFailure {
  v: 1;
  fileId: string;
  canonicalId: string;
  reason: UploadFailureReason;
  /** Human-readable cause; never contains a token, signature or credential. */
  message: string;
  attempts: number;
  failedAt: string;
  /** The work item without any download token ({@link withoutCredentials}) so it can be replayed. */
  item?: Omit<FileWorkItem, 'downloadToken'>;
}

export function encodeUploadResult(result: UploadResult): Buffer {
  return encodeJson(result);
}

export function decodeUploadResult(bytes: Buffer | string): UploadResult {
  const C2 = 'UploadResult';
  const o = asObject(C2, '(value)', parseJson(C2, bytes));
  return {
    v: 1,
    fileId: str(C2, o, 'fileId'),
    canonicalId: str(C2, o, 'canonicalId'),
    meetingUuid: str(C2, o, 'meetingUuid'),
    bucket: str(C2, o, 'bucket'),
    key: str(C2, o, 'key'),
    size: num(C2, o, 'size'),
    sha256: str(C2, o, 'sha256'),
    etag: str(C2, o, 'etag'),
    durationMs: num(C2, o, 'durationMs'),
    alreadyStored: o.alreadyStored === true,
    uploadedAt: str(C2, o, 'uploadedAt'),
  };
}

// A Record, so that a reason added to UploadFailureReason without being added here fails to compile: the set was a
// list, and the uploader's own reasons (object_key_collision, retry_budget_exhausted, …) were missing, so their
// dead letters could not be decoded (found by the redrive, issue 15).
const FAILURE_REASON_LIST: Record<UploadFailureReason, true> = {
  download_forbidden_host: true,
  download_unauthorized: true,
  download_html_response: true,
  download_size_mismatch: true,
  download_http_error: true,
  download_network: true,
  store_failed: true,
  invalid_work_item: true,
  download_credentials_missing: true,
  file_not_completed: true,
  download_url_missing: true,
  file_entry_invalid: true,
  object_key_rejected: true,
  metadata_rejected: true,
  object_key_collision: true,
  retry_budget_exhausted: true,
};
const FAILURE_REASONS: ReadonlySet<string> = new Set(Object.keys(FAILURE_REASON_LIST));

export function encodeUploadFailure(failure: UploadFailure): Buffer {
  return encodeJson(failure);
}

/** Decodes a `zoom.recording.failed` value (the item, when present, is kept as sent: it carries no token). */
export function decodeUploadFailure(bytes: Buffer | string): UploadFailure {
  const C3 = 'UploadFailure';
  const o = asObject(C3, '(value)', parseJson(C3, bytes));
  const reason = str(C3, o, 'reason');
  if (!FAILURE_REASONS.has(reason)) throw new ContractViolation(C3, 'reason', 'is not a known failure reason');
  const failure: UploadFailure = {
    v: 1,
    fileId: str(C3, o, 'fileId'),
    canonicalId: str(C3, o, 'canonicalId'),
    reason: reason as UploadFailureReason,
    message: str(C3, o, 'message'),
    attempts: num(C3, o, 'attempts'),
    failedAt: str(C3, o, 'failedAt'),
  };
  if (o.item !== undefined)
    failure.item = asObject(C3, 'item', o.item) as unknown as Omit<FileWorkItem, 'downloadToken'>;
  return failure;
}
