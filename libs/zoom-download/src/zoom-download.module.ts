import { type DynamicModule, Module } from '@nestjs/common';
import type { DownloadSettings } from '@zoom-pipeline/config';
import { S2S_TOKEN_SOURCE, S2STokenProvider, type S2STokenSource } from './s2s-token-provider';
import { RECORDING_DOWNLOADER } from './zoom-download.port';
import { ZoomDownloader } from './zoom-downloader';

/**
 * Provides RECORDING_DOWNLOADER (global): features inject the port, the app chooses the adapter here. Also
 * S2S_TOKEN_SOURCE (undefined without credentials): the process's one S2S token cache, which the Zoom REST API
 * client (libs/zoom-api) shares, so downloads and listings cost one token call per expiry between them.
 */
@Module({})
export class ZoomDownloadModule {
  static forRoot(settings: DownloadSettings): DynamicModule {
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
          inject: [S2S_TOKEN_SOURCE],
          useFactory: (s2sTokens: S2STokenSource | undefined) =>
            new ZoomDownloader({
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
