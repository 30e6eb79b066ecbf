import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Inject, Injectable } from '@nestjs/common';
import {
  type FileWorkItem,
  HEADERS,
  TOPICS,
  type UploadFailure,
  decodeUploadFailure,
  encodeFileWorkItem,
  topicSpec,
} from '@zoom-pipeline/contracts';
import { DEDUP_STORE, type DedupStore } from '@zoom-pipeline/dedup-store';
import { EVENT_BUS, type EventBus, type OutgoingMessage } from '@zoom-pipeline/event-bus';
import { LOGGER } from '@zoom-pipeline/service-kit';
import { type Logger, SpanKind, inSpan, injectTraceHeaders } from '@zoom-pipeline/telemetry';
import { ReconcileMetrics } from './reconcile.metrics';
import { ReconcileBusyError } from './reconcile.service';
import { storedAmong } from './stored-ledger';

export interface RedriveRequest {
  /** Only failures with this reason (e.g. `download_unauthorized`). */
  reason?: string;
  /** Only files of this meeting instance UUID. */
  meetingUuid?: string;
  dryRun?: boolean;
}

export interface RedriveSummary {
  redriveId: string;
  dryRun: boolean;
  /** Records read from zoom.recording.failed. */
  scanned: number;
  /** Distinct files among them (a file that failed twice counts once, with its latest failure). */
  files: number;
  matched: number;
  /** Stored since it failed (by a later webhook, reconcile or redrive): not queued. */
  alreadyStored: number;
  /** Without a work item or download URL (e.g. `download_url_missing`): nothing to retry. */
  notRedrivable: number;
  queued: number;
  byReason: Record<string, number>;
}

const LEASE = 'redrive';
const LEASE_TTL_MS = 120_000;
/** Lag is checked this often while reading the dead-letter topic to its end. */
const CAUGHT_UP_POLL_MS = 200;
/** With no record and no lag change for this long, the topic is read (a transaction marker can keep lag at 1). */
const IDLE_DONE_MS = 3_000;

/**
 * Dead-letter redrive: reads zoom.recording.failed to its end under a throw-away consumer group (so it always sees
 * every failure still retained, whatever earlier redrives did), keeps each file's latest failure, and re-queues the
 * matching ones that are still not stored, with their original work item (no token: the uploader uses S2S).
 */
@Injectable()
export class RedriveService {
  constructor(
    @Inject(EVENT_BUS) private readonly bus: EventBus,
    @Inject(DEDUP_STORE) private readonly store: DedupStore,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly metrics: ReconcileMetrics,
  ) {}

  async redrive(req: RedriveRequest): Promise<RedriveSummary> {
    const redriveId = randomUUID();
    const owner = `${hostname()}-${process.pid}-${redriveId}`;
    if (!(await this.store.acquireLease(LEASE, owner, LEASE_TTL_MS)))
      throw new ReconcileBusyError('another redrive is running');
    try {
      return await inSpan('redrive', { kind: SpanKind.INTERNAL }, () => this.run(redriveId, req));
    } finally {
      await this.store.releaseLease(LEASE, owner).catch(() => undefined);
    }
  }

  private async run(redriveId: string, req: RedriveRequest): Promise<RedriveSummary> {
    const latest = new Map<string, UploadFailure>();
    const summary: RedriveSummary = {
      redriveId,
      dryRun: req.dryRun === true,
      scanned: 0,
      files: 0,
      matched: 0,
      alreadyStored: 0,
      notRedrivable: 0,
      queued: 0,
      byReason: {},
    };
    let lastActivity = Date.now();
    await this.bus.ensureTopics([topicSpec(TOPICS.failed), topicSpec(TOPICS.files)]);
    const handle = await this.bus.consume({
      groupId: `zoom-pipeline-redrive-${redriveId}`,
      topics: [TOPICS.failed],
      fromBeginning: true,
      eachBatch: async (batch) => {
        lastActivity = Date.now();
        for (const msg of batch.messages) {
          summary.scanned += 1;
          try {
            const failure = decodeUploadFailure(msg.value);
            latest.set(failure.fileId, failure);
          } catch (err) {
            this.logger.warn(
              { partition: msg.partition, offset: msg.offset, reason: (err as Error).message },
              'zoom.recording.failed record is not an upload failure; not redriven',
            );
          }
        }
        return { outputs: [] };
      },
    });
    try {
      let lastLag = -1;
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, CAUGHT_UP_POLL_MS));
        const lag = (await handle.lag().catch(() => undefined))?.reduce((sum, p) => sum + p.lag, 0);
        if (lag === 0) break;
        if (lag !== lastLag) {
          lastLag = lag ?? -1;
          lastActivity = Date.now();
        }
        if (Date.now() - lastActivity > IDLE_DONE_MS) break;
      }
    } finally {
      await handle.stop();
    }

    summary.files = latest.size;
    const candidates: Array<{ failure: UploadFailure; item: FileWorkItem }> = [];
    for (const failure of latest.values()) {
      if (req.reason !== undefined && failure.reason !== req.reason) continue;
      if (req.meetingUuid !== undefined && failure.item?.meetingUuid !== req.meetingUuid) continue;
      summary.matched += 1;
      const item = failure.item as FileWorkItem | undefined;
      if (item === undefined || item.downloadUrl === '' || item.fileId !== failure.fileId) {
        summary.notRedrivable += 1;
        continue;
      }
      candidates.push({ failure, item });
    }
    const stored = await storedAmong(
      this.store,
      candidates.map((c) => c.item.fileId),
    );
    const outputs: OutgoingMessage[] = [];
    candidates.forEach(({ failure, item }, i) => {
      if (stored[i]) {
        summary.alreadyStored += 1;
        return;
      }
      summary.byReason[failure.reason] = (summary.byReason[failure.reason] ?? 0) + 1;
      // The work item as it was, without credentials (dead letters never carry them): the uploader falls back to S2S.
      const { alternates: _alternates, downloadToken: _token, ...clean } = item;
      outputs.push({
        topic: TOPICS.files,
        key: item.fileId,
        value: encodeFileWorkItem(clean),
        headers: injectTraceHeaders({ [HEADERS.canonicalId]: item.canonicalId, 'zp-source': 'redrive' }),
      });
    });
    if (!summary.dryRun && outputs.length > 0) {
      await this.bus.publish(outputs);
      summary.queued = outputs.length;
      for (const [reason, n] of Object.entries(summary.byReason)) this.metrics.redriven.inc({ reason }, n);
    }
    this.logger.info({ ...summary }, 'redrive finished');
    return summary;
  }
}
