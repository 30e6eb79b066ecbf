import { Controller } from '@nestjs/common';
import { DEFAULT_PARTITIONS, TOPICS, topicSpec } from '@zoom-pipeline/contracts';
import { type BatchResult, BusHandler, type HandlerBatch } from '@zoom-pipeline/event-bus';
import { RtmsService } from './rtms.service';

/** Settings from the configuration, merged over the decorator's (rtms-feature.module.ts): the per-process group id. */
export const RTMS_CONSUMER_OPTIONS = Symbol('RTMS_CONSUMER_OPTIONS');

/** Prefix of the rtms consumer groups; each process adds its instance id (every pod must see every stream). */
export const RTMS_GROUP_PREFIX = 'zoom-pipeline-rtms';

/** zoom.events (meeting|webinar|session.rtms_started / _stopped) → the RTMS connector. */
@Controller()
export class RtmsEventsConsumer {
  constructor(private readonly rtms: RtmsService) {}

  @BusHandler(TOPICS.events, {
    name: 'rtms',
    groupId: RTMS_GROUP_PREFIX,
    ensureTopics: [TOPICS.events, TOPICS.rtmsTranscripts, TOPICS.rtmsChat].map(topicSpec),
    concurrentPartitions: DEFAULT_PARTITIONS[TOPICS.events],
    overrides: RTMS_CONSUMER_OPTIONS,
  })
  handle(batch: HandlerBatch): Promise<BatchResult> {
    return this.rtms.handleBatch(batch);
  }
}
