import {
  CREDENTIALS_MISSING_MESSAGE,
  type FileWorkItem,
  type UploadFailureReason,
  hasNoDownloadToken,
} from '@zoom-pipeline/contracts';

/**
 * How long a file Zoom still reports as not `completed` is waited for: Zoom's download tokens live 24 h from the
 * event, and the later recording event that lists the file finished is a new occurrence with its own work item.
 */
export const DEFAULT_UNFINISHED_WAIT_MS = 24 * 3_600_000;

export type FileReadiness =
  /** Download now; `expectedSize` is absent when Zoom sent no `file_size` (stream without a known length). */
  | { action: 'download'; expectedSize?: number }
  /** Not final yet: do not download; look again after `retryAfterMs` (the finished file may be stored meanwhile). */
  | { action: 'wait'; retryAfterMs: number }
  /** Terminal: publish to zoom.recording.failed with this reason and message (replayable once fixed). */
  | {
      action: 'fail';
      reason: Extract<UploadFailureReason, 'download_credentials_missing' | 'file_not_completed'>;
      message: string;
    };

export interface FileReadinessInput {
  item: FileWorkItem;
  nowMs: number;
  /** true when the uploader has an OAuth credential for this account (S2S, or a linked user's token). */
  oauthConfigured: boolean;
  maxWaitMs?: number;
  retryIntervalMs?: number;
}

/**
 * What the uploader should do with a work item before it opens a download (items 1, 2 and 8 of the file-shapes
 * issue), as a pure decision: no download without any credential (the reason says what to configure), no unfinished
 * file stored as final (wait within a bound, then say so), and no size check for a file Zoom gave no size.
 */
export function fileReadiness(input: FileReadinessInput): FileReadiness {
  const { item, nowMs } = input;
  if (hasNoDownloadToken(item) && !input.oauthConfigured) {
    return { action: 'fail', reason: 'download_credentials_missing', message: CREDENTIALS_MISSING_MESSAGE };
  }
  if (item.fileStatus !== undefined) {
    const since = Date.parse(item.tokenReceivedAt);
    const maxWaitMs = input.maxWaitMs ?? DEFAULT_UNFINISHED_WAIT_MS;
    const waited = Number.isFinite(since) ? nowMs - since : maxWaitMs;
    if (waited >= maxWaitMs) {
      const hours = Math.round(maxWaitMs / 360_000) / 10;
      return {
        action: 'fail',
        reason: 'file_not_completed',
        message:
          `Zoom still reported the file as ${item.fileStatus} ${hours} h after the recording event; it ` +
          'is stored when a later recording event lists it completed, or replay this record once Zoom has ' +
          'finished it',
      };
    }
    return { action: 'wait', retryAfterMs: Math.min(input.retryIntervalMs ?? 5 * 60_000, maxWaitMs - waited) };
  }
  return item.sizeUnknown ? { action: 'download' } : { action: 'download', expectedSize: item.fileSize };
}
