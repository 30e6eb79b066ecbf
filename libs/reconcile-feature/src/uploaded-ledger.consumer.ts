import { Controller, Inject } from '@nestjs/common';
import { type AppConfig, CONFIG } from '@zoom-pipeline/config';
import { TOPICS, type UploadResult, decodeUploadResult, topicSpec } from '@zoom-pipeline/contracts';
import { DEDUP_STORE, type DedupStore } from '@zoom-pipeline/dedup-store';
import { type BatchResult, BusHandler, type HandlerBatch } from '@zoom-pipeline/event-bus';
import { LOGGER } from '@zoom-pipeline/service-kit';
import type { Logger } from '@zoom-pipeline/telemetry';
import { ReconcileMetrics } from './reconcile.metrics';
import { STORED_OWNER, storedKey } from './stored-ledger';
import { TrashService } from './trash.service';

export const LEDGER_GROUP_ID = 'zoom-pipeline-reconcile-ledger';

/** zoom.recording.uploaded → the stored-files ledger (idempotent: a claim per file id, replays change nothing). */
@Controller()
export class UploadedLedgerConsumer {
  constructor(
    @Inject(DEDUP_STORE) private readonly store: DedupStore,
    @Inject(CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly metrics: ReconcileMetrics,
    private readonly trash: TrashService,
  ) {}

  @BusHandler(TOPICS.uploaded, {
    name: 'reconcile-ledger',
    groupId: LEDGER_GROUP_ID,
    ensureTopics: [TOPICS.uploaded].map(topicSpec),
    maxBatchSize: 1000,
  })
  async handle(batch: HandlerBatch): Promise<BatchResult> {
    const results: UploadResult[] = [];
    for (const msg of batch.messages) {
      try {
        results.push(decodeUploadResult(msg.value));
      } catch (err) {
        // Not an upload result: nothing to remember; the reconciler will find that file missing and queue it.
        this.logger.warn(
          { partition: msg.partition, offset: msg.offset, reason: (err as Error).message },
          'zoom.recording.uploaded record is not an upload result; ignored by the ledger',
        );
      }
    }
    const fileIds = results.map((r) => r.fileId);
    if (fileIds.length > 0) {
      // A store error throws: nothing is committed and the batch comes back (the transport's backoff).
      await this.store.claimMany(
        fileIds.map((id) => ({ key: storedKey(id), owner: STORED_OWNER, ttlMs: this.config.reconcile.ledgerTtlMs })),
      );
      this.metrics.ledgerWrites.inc(fileIds.length);
    }
    // Only files that reached zoom.recording.uploaded, and only after their stored copy is verified (trash.service.ts).
    if (this.trash.enabled) await this.trash.afterUploads(results);
    return { outputs: [] };
  }
}
