import { ContractViolation, asObject, num, optStr, parseJson, str } from './validate';

/** Value of `zoom.recording.files` (key: file id): one recording file to store. */
export interface FileWorkItem {
  v: 1;
  /** Zoom recording file `id`: the file's identity. */
  fileId: string;
  /** Canonical id of the `recording.completed` occurrence this file belongs to. */
  canonicalId: string;
  app: string;
  accountId: string;
  meetingUuid: string;
  /** Meeting number, normalised to a string. */
  meetingId: string;
  topic: string;
  hostId: string;
  meetingStartTime: string;
  recordingStart: string;
  recordingEnd: string;
  fileType: string;
  fileExtension: string;
  fileSize: number;
  recordingType?: string;
  downloadUrl: string;
  /** The download token of the canonical delivery; the dedup store may hold a fresher one. */
  downloadToken?: string;
  /** ISO time the token above was received (tokens live 24 h). */
  tokenReceivedAt: string;
}

const C = 'FileWorkItem';

export function decodeFileWorkItem(bytes: Buffer | string): FileWorkItem {
  const o = asObject(C, '(value)', parseJson(C, bytes));
  if (o.v !== 1) throw new ContractViolation(C, 'v', 'must be 1');
  const fileSize = num(C, o, 'fileSize');
  if (fileSize < 0 || !Number.isInteger(fileSize)) throw new ContractViolation(C, 'fileSize', 'must be a non-negative integer');
  return {
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
}

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
  /** The work item (without its download token) so it can be replayed. */
  item?: Omit<FileWorkItem, 'downloadToken'>;
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
