import { Module } from '@nestjs/common';
import { type AppConfig, CONFIG } from '@zoom-pipeline/config';
import { type BusHandlerOptions } from '@zoom-pipeline/event-bus';
import { FILE_WORK_CONSUMER_OPTIONS, FileWorkConsumer } from './file-work.consumer';
import { UploadService } from './upload.service';

/**
 * Needs CONFIG, EVENT_BUS, DEDUP_STORE, OBJECT_STORE, RECORDING_DOWNLOADER and the service kit from the app module; the
 * app starts the bus transport.
 */
@Module({
  controllers: [FileWorkConsumer],
  providers: [
    {
      provide: FILE_WORK_CONSUMER_OPTIONS,
      inject: [CONFIG],
      useFactory: (config: AppConfig): Partial<BusHandlerOptions> => ({
        // Small batches: a batch is committed when all its files are done, so keep it near the concurrency.
        maxBatchSize: Math.max(1, config.upload.concurrency * 2),
        startedFields: { concurrency: config.upload.concurrency },
      }),
    },
    UploadService,
  ],
  exports: [UploadService],
})
export class UploaderFeatureModule {}
