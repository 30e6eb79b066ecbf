import type { Readable } from 'node:stream';

/*
 * The download port the uploader depends on. ZoomDownloader (zoom-downloader.ts) is the adapter; tests of
 * the uploader can provide any object with `open`. This file imports no client library.
 */

export type DownloadTokenSource = 'webhook' | 'fresher_copy';
/** `user_oauth`: the linked Zoom user's OAuth access token (accounts feature). */
export type TokenSource = 's2s' | 'user_oauth' | DownloadTokenSource;

export interface DownloadToken {
  token: string;
  /** `webhook`: the delivery that produced the work item; `fresher_copy`: a later duplicate's token. */
  source: DownloadTokenSource;
  /** When the delivery carrying this token arrived (Zoom: valid for 24 h after that). */
  receivedAtMs: number;
}

export interface DownloadRequest {
  /** `download_url` from the webhook. */
  url: string;
  /**
   * `file_size` from the webhook: a different byte count is a failure, never a stored recording. Undefined when Zoom
   * sent none (CC, TIMELINE, some CHAT files): then the size the server declares (Content-Length, or the total of a
   * Content-Range) is checked instead, and a body without either is taken as complete when it ends cleanly.
   */
  expectedSize?: number;
  /** Best first. */
  tokens: readonly DownloadToken[];
  signal?: AbortSignal;
  /** Whose recording it is: with USER_ACCESS_TOKENS, that user's OAuth token is tried after the download tokens. */
  owner?: RecordingOwner;
}

export interface RecordingOwner {
  zoomUserId: string;
  accountId: string;
}

/** Optional port: the access token of a linked Zoom user (or account), refreshed as needed; undefined when none. */
export interface UserAccessTokens {
  accessTokenFor(owner: RecordingOwner): Promise<string | undefined>;
}

export interface DownloadStats {
  /** Requests started (first hop or resume), including the ones that failed. */
  attempts: number;
  /** Requests that asked for `Range: bytes=<n>-` after a break. */
  resumes: number;
  /** Bytes handed to the body so far (exactly expectedSize, or the declared size, after a successful end). */
  bytes: number;
  /** The credential of the last accepted first-hop answer. */
  tokenSource: TokenSource;
}

export interface DownloadStream {
  /** Exactly expectedSize bytes (or the size the server declared), then end; or an error. Never a short success. */
  body: Readable;
  contentType: string;
  stats(): DownloadStats;
}

export interface RecordingDownloader {
  /**
   * Resolves once a first answer was accepted (status, content type and declared size checked); rejects
   * with a DownloadError when no download could start. Later failures error `body`.
   */
  open(req: DownloadRequest): Promise<DownloadStream>;
}

export const RECORDING_DOWNLOADER = Symbol('RECORDING_DOWNLOADER');
