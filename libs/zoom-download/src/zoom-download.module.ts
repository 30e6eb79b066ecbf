import { type DynamicModule, Module } from '@nestjs/common';
import type { DownloadSettings } from '@zoom-pipeline/config';
import { RECORDING_DOWNLOADER } from './zoom-download.port';
import { ZoomDownloader } from './zoom-downloader';

/** Provides RECORDING_DOWNLOADER (global): features inject the port, the app chooses the adapter here. */
@Module({})
export class ZoomDownloadModule {
  static forRoot(settings: DownloadSettings): DynamicModule {
    return {
      module: ZoomDownloadModule,
      global: true,
      providers: [
        {
          provide: RECORDING_DOWNLOADER,
          useFactory: () =>
            new ZoomDownloader({
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
