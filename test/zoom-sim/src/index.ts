// Public API of @zoom-pipeline/zoom-sim: plays Zoom (webhook deliveries, recording downloads, S2S OAuth)
// for tests and benchmarks. See test/zoom-sim/README.md.
export { findRepoRoot, fixtureDirs, fixturesDir, fixtureNames, fixtureText, loadFixture, zoomBody } from './fixtures';
export {
  awkwardMeetingUuid,
  buildPayload,
  deepMerge,
  fakeDownloadToken,
  meetingStarted,
  participantJoined,
  recordingCompleted,
  urlValidation,
  webhookDownloadUrl,
  zoomMeetingNumber,
  zoomMeetingUuid,
  zoomOpaqueId,
  zoomTime,
  type MeetingEventObject,
  type MeetingStartedEvent,
  type MeetingStartedOptions,
  type ParticipantJoinedEvent,
  type ParticipantJoinedOptions,
  type RecordingCompletedEvent,
  type RecordingCompletedOptions,
  type RecordingFileSpec,
  type UrlValidationEvent,
  type ZoomParticipant,
  type ZoomRecordingFile,
} from './payload-builder';
export { FastClock, realClock, type SimClock } from './sim-clock';
export { zoomEncryptedToken, zoomSignature } from './zoom-signature';
export {
  ZOOM_ACK_TIMEOUT_MS,
  ZOOM_CONTENT_TYPE,
  ZOOM_RETRY_DELAYS_MS,
  ZOOM_USER_AGENT,
  ZoomWebhookSender,
  duplicateCopy,
  zoomRequestId,
  zoomTraceparent,
  zoomTrackingId,
  type AttemptResult,
  type DeliveryAttempt,
  type DeliveryOutcome,
  type EndpointValidationResult,
  type SendOptions,
  type SenderStats,
  type WebhookBody,
  type ZoomWebhookSenderOptions,
} from './webhook-sender';
export { CONTENT_CHUNK_SIZE, DeterministicContent } from './deterministic-content';
export {
  startDownloadServer,
  type AddFileOptions,
  type DownloadServer,
  type DownloadServerOptions,
  type DownloadServerStats,
  type FileDownloadStats,
  type FileFaults,
  type ResetPolicy,
  type ResetRequestInfo,
  type S2SCredentials,
  type SimFile,
} from './download-server';
