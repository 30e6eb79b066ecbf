import { Controller } from '@nestjs/common';
import { TOPICS, topicSpec } from '@zoom-pipeline/contracts';
import { type BatchResult, BusHandler, type HandlerBatch } from '@zoom-pipeline/event-bus';
import { UPLOADER_GROUP_ID, UploadService } from './upload.service';

/** Settings from the configuration, merged over the decorator's (uploader-feature.module.ts). */
export const FILE_WORK_CONSUMER_OPTIONS = Symbol('FILE_WORK_CONSUMER_OPTIONS');

/** zoom.recording.files → the object store, then zoom.recording.uploaded or zoom.recording.failed. */
@Controller()
export class FileWorkConsumer {
  constructor(private readonly uploads: UploadService) {}

  @BusHandler(TOPICS.files, {
    name: 'uploader',
    groupId: UPLOADER_GROUP_ID,
    ensureTopics: [TOPICS.files, TOPICS.uploaded, TOPICS.failed].map(topicSpec),
    overrides: FILE_WORK_CONSUMER_OPTIONS,
  })
  handle(batch: HandlerBatch): Promise<BatchResult> {
    return this.uploads.handleBatch(batch);
  }
}
