import { type DynamicModule, Module } from '@nestjs/common';
import type { DownloadSettings } from '@zoom-pipeline/config';
import { S2S_TOKEN_SOURCE, S2STokenProvider, type S2STokenSource } from './s2s-token-provider';
import { RECORDING_DOWNLOADER, type UserAccessTokens } from './zoom-download.port';
import { ZoomDownloader } from './zoom-downloader';

/**
 * Provides RECORDING_DOWNLOADER (global): features inject the port, the app chooses the adapter here. Also
 * S2S_TOKEN_SOURCE (undefined without credentials): the process's one S2S token cache, which the Zoom REST API
 * client (libs/zoom-api) shares, so downloads and listings cost one token call per expiry between them.
 */
@Module({})
export class ZoomDownloadModule {
  /**
   * `userAccessTokens`: a provider token (e.g. LINKED_ACCOUNTS) whose value, when not null, gives linked users' tokens.
   */
  static forRoot(settings: DownloadSettings, options: { userAccessTokens?: symbol | string } = {}): DynamicModule {
    return {
      module: ZoomDownloadModule,
      global: true,
      providers: [
        {
          provide: S2S_TOKEN_SOURCE,
          useFactory: (): S2STokenSource | undefined =>
            settings.s2s ? new S2STokenProvider({ ...settings.s2s, tokenUrl: settings.oauthUrl }) : undefined,
        },
        {
          provide: RECORDING_DOWNLOADER,
          inject: [
            S2S_TOKEN_SOURCE,
            ...(options.userAccessTokens ? [{ token: options.userAccessTokens, optional: true }] : []),
          ],
          useFactory: (s2sTokens: S2STokenSource | undefined, userAccessTokens?: UserAccessTokens | null) =>
            new ZoomDownloader({
              userAccessTokens: userAccessTokens ?? undefined,
              allowedHosts: settings.allowedHosts,
              maxAttempts: settings.maxAttempts,
              s2s: settings.s2s ? { ...settings.s2s, tokenUrl: settings.oauthUrl } : undefined,
              s2sTokens,
            }),
        },
      ],
      exports: [RECORDING_DOWNLOADER, S2S_TOKEN_SOURCE],
    };
  }
}
