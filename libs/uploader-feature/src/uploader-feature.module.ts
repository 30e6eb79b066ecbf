import { Module } from '@nestjs/common';
import { type AppConfig, CONFIG } from '@zoom-pipeline/config';
import { ZoomDownloader } from '@zoom-pipeline/zoom-download';
import { UploadService, ZOOM_DOWNLOADER } from './upload.service';

/** Needs CONFIG, EVENT_BUS, DEDUP_STORE, OBJECT_STORE and the service kit from the app module. */
@Module({
  providers: [
    {
      provide: ZOOM_DOWNLOADER,
      inject: [CONFIG],
      useFactory: (config: AppConfig) =>
        new ZoomDownloader({
          allowedHosts: config.download.allowedHosts,
          maxAttempts: config.download.maxAttempts,
          s2s: config.download.s2s ? { ...config.download.s2s, tokenUrl: config.download.oauthUrl } : undefined,
        }),
    },
    UploadService,
  ],
  exports: [UploadService],
})
export class UploaderFeatureModule {}
