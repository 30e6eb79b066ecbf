import { type DynamicModule, Module } from '@nestjs/common';
import type { DownloadSettings } from '@zoom-pipeline/config';
import { RECORDING_DOWNLOADER, type UserAccessTokens } from './zoom-download.port';
import { ZoomDownloader } from './zoom-downloader';

/** Provides RECORDING_DOWNLOADER (global): features inject the port, the app chooses the adapter here. */
@Module({})
export class ZoomDownloadModule {
  /** `userAccessTokens`: a provider token (e.g. LINKED_ACCOUNTS) whose value, when not null, gives linked users' tokens. */
  static forRoot(settings: DownloadSettings, options: { userAccessTokens?: symbol | string } = {}): DynamicModule {
    return {
      module: ZoomDownloadModule,
      global: true,
      providers: [
        {
          provide: RECORDING_DOWNLOADER,
          inject: options.userAccessTokens ? [{ token: options.userAccessTokens, optional: true }] : [],
          useFactory: (userAccessTokens?: UserAccessTokens | null) =>
            new ZoomDownloader({
              userAccessTokens: userAccessTokens ?? undefined,
              allowedHosts: settings.allowedHosts,
              maxAttempts: settings.maxAttempts,
              s2s: settings.s2s ? { ...settings.s2s, tokenUrl: settings.oauthUrl } : undefined,
            }),
        },
      ],
      exports: [RECORDING_DOWNLOADER],
    };
  }
}
