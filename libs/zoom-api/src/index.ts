export { type DayWindow, type IsoDay, formatIsoDay, parseIsoDay, splitIntoWindows } from './date-windows';
export { RequestBudget } from './request-budget';
export { ZoomApiError, type ZoomApiErrorCode } from './zoom-api-error';
export {
  DEFAULT_ZOOM_API_URL,
  MAX_PAGE_SIZE,
  ZoomApiClient,
  encodeMeetingUuid,
  parseRetryAfterMs,
  type AccessTokenSource,
  type ListRecordingsRequest,
  type MeetingRegistrant,
  type MeetingRegistrantRequest,
  type RecordingPage,
  type RecordingScope,
  type ZoomApiClientOptions,
  type ZoomRecordingMeeting,
} from './zoom-api.client';
export { ZOOM_API, ZoomApiModule, type ZoomApiModuleOptions } from './zoom-api.module';
