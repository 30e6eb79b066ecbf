import { Inject, Injectable, Optional } from '@nestjs/common';
import { type AppConfig, CONFIG } from '@zoom-pipeline/config';
import type { UploadResult } from '@zoom-pipeline/contracts';
import { DEDUP_STORE, type DedupStore } from '@zoom-pipeline/dedup-store';
import { OBJECT_STORE, type ObjectStore, decodeMetadataValue } from '@zoom-pipeline/object-store';
import { LOGGER } from '@zoom-pipeline/service-kit';
import { type Logger, SpanKind, inSpan } from '@zoom-pipeline/telemetry';
import { ZOOM_API, type ZoomApiClient } from '@zoom-pipeline/zoom-api';
import { ReconcileMetrics } from './reconcile.metrics';

export type TrashOutcome = 'trashed' | 'already_trashed' | 'unverified' | 'not_trashable' | 'failed';

export function trashedKey(fileId: string): string {
  return `trashed:${fileId}`;
}

/**
 * ZOOM_AFTER_UPLOAD=trash: moves a stored file to Zoom's trash (recoverable there), and only once the stored copy is
 * verified: the object at the result's key exists, names this file, has the result's size, and carries the SHA-256
 * the upload computed (S3_SHA256_METADATA; an object without it is never trashed). Runs from zoom.recording.uploaded,
 * so nothing is trashed for a failed upload (those go to zoom.recording.failed). Once per file (`trashed:<fileId>`).
 */
@Injectable()
export class TrashService {
  readonly enabled: boolean;
  private readonly ledgerTtlMs: number;

  constructor(
    @Inject(CONFIG) config: AppConfig,
    @Inject(DEDUP_STORE) private readonly store: DedupStore,
    @Inject(ZOOM_API) private readonly api: ZoomApiClient | undefined,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly metrics: ReconcileMetrics,
    @Optional() @Inject(OBJECT_STORE) private readonly objects: ObjectStore | undefined,
  ) {
    this.enabled = config.reconcile.afterUpload === 'trash';
    this.ledgerTtlMs = config.reconcile.ledgerTtlMs;
  }

  /** Settles each result; never throws (a file left in Zoom is not lost, the failure is logged and counted). */
  async afterUploads(results: readonly UploadResult[]): Promise<TrashOutcome[]> {
    const outcomes: TrashOutcome[] = [];
    for (const r of results) {
      const outcome = await this.afterUpload(r).catch((err: unknown) => {
        this.logger.warn(
          { fileId: r.fileId, err: { message: (err as Error).message, code: (err as { code?: string }).code } },
          'could not move the recording file to the Zoom trash; it stays in Zoom',
        );
        return 'failed' as const;
      });
      this.metrics.trash.inc({ outcome });
      outcomes.push(outcome);
    }
    return outcomes;
  }

  private async afterUpload(r: UploadResult): Promise<TrashOutcome> {
    // Zoom's recording id is the file id, except for files without one (derived-…) or sharing one (<id>~…):
    // trashing the shared id would trash the other file too.
    if (this.api === undefined || r.fileId.startsWith('derived-') || r.fileId.includes('~') || r.meetingUuid === '')
      return 'not_trashable';
    if ((await this.store.peekClaims([trashedKey(r.fileId)]))[0] !== null) return 'already_trashed';
    const head = this.objects === undefined ? null : await this.objects.head(r.key);
    const verified =
      head !== null &&
      decodeMetadataValue(head.metadata['zoom-file-id']) === r.fileId &&
      head.size === r.size &&
      r.sha256 !== '' &&
      head.sha256 === r.sha256;
    if (!verified) {
      this.logger.warn(
        { fileId: r.fileId, key: r.key, found: head !== null },
        'stored copy not verified by size and SHA-256; not moving the recording file to the Zoom trash',
      );
      return 'unverified';
    }
    const api = this.api;
    await inSpan('zoom.trash', { kind: SpanKind.INTERNAL, attributes: { 'zoom.file_id': r.fileId } }, () =>
      api.trashRecordingFile(r.meetingUuid, r.fileId),
    );
    await this.store.claimMany([{ key: trashedKey(r.fileId), owner: 'trashed', ttlMs: this.ledgerTtlMs }]);
    this.logger.info(
      { fileId: r.fileId, key: r.key },
      'recording file moved to the Zoom trash after its verified upload',
    );
    return 'trashed';
  }
}
