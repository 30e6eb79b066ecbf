export { isHostAllowed, isPrivateAddress, isLoopbackAddress } from './address-policy';
export { DownloadError, type DownloadErrorCode, parseRetryAfter } from './download-error';
export { type ResolveHost } from './hop-guard';
export {
  DEFAULT_S2S_TOKEN_URL,
  S2S_TOKEN_SOURCE,
  S2STokenProvider,
  type S2STokenProviderOptions,
  type S2STokenSource,
} from './s2s-token-provider';
export { ZoomDownloader, type ZoomDownloaderOptions } from './zoom-downloader';
export {
  RECORDING_DOWNLOADER,
  type DownloadRequest,
  type DownloadStats,
  type DownloadStream,
  type DownloadToken,
  type DownloadTokenSource,
  type RecordingDownloader,
  type RecordingOwner,
  type UserAccessTokens,
  type TokenSource,
} from './zoom-download.port';
export { ZoomDownloadModule } from './zoom-download.module';
