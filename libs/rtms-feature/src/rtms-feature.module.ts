import { Module } from '@nestjs/common';
import { type AppConfig, CONFIG } from '@zoom-pipeline/config';
import { type BusHandlerOptions } from '@zoom-pipeline/event-bus';
import { RTMS_CONSUMER_OPTIONS, RTMS_GROUP_PREFIX, RtmsEventsConsumer } from './rtms.consumer';
import { RtmsService } from './rtms.service';

/**
 * Needs CONFIG, EVENT_BUS, DEDUP_STORE, OBJECT_STORE and the service kit from the app module; the app starts the bus
 * transport.
 */
@Module({
  controllers: [RtmsEventsConsumer],
  providers: [
    {
      provide: RTMS_CONSUMER_OPTIONS,
      inject: [CONFIG],
      // A group per process: every pod must learn of every stream so that it can take the lease over. A new
      // process reads zoom.events from the start (streams older than RTMS_MAX_STREAM_AGE are skipped).
      useFactory: (config: AppConfig): Partial<BusHandlerOptions> => ({
        groupId: `${RTMS_GROUP_PREFIX}-${config.rtms.instanceId}`,
        fromBeginning: true,
        startedFields: { instance: config.rtms.instanceId, media: config.rtms.media.join(',') },
      }),
    },
    RtmsService,
  ],
  exports: [RtmsService],
})
export class RtmsFeatureModule {}
