import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { canonicalId, canonicalKey, fileWorkItems, uploadFileTypeFilter } from '@zoom-pipeline/canonical';
import { type AppConfig, CONFIG } from '@zoom-pipeline/config';
import { type FileWorkItem, HEADERS, TOPICS, encodeFileWorkItem } from '@zoom-pipeline/contracts';
import { DEDUP_STORE, type DedupStore } from '@zoom-pipeline/dedup-store';
import { EVENT_BUS, type EventBus, type OutgoingMessage } from '@zoom-pipeline/event-bus';
import { LOGGER } from '@zoom-pipeline/service-kit';
import { type Logger, SpanKind, inSpan, injectTraceHeaders } from '@zoom-pipeline/telemetry';
import {
  ZOOM_API,
  type ZoomApiClient,
  type ZoomRecordingMeeting,
  formatIsoDay,
  parseIsoDay,
} from '@zoom-pipeline/zoom-api';
import { ReconcileMetrics } from './reconcile.metrics';
import { claimQueueing, storedAmong } from './stored-ledger';

export type ReconcileTrigger = 'schedule' | 'api';

export interface ReconcileRequest {
  /** yyyy-mm-dd (UTC), inclusive; default: today − RECONCILE_LOOKBACK. */
  from?: string;
  /** yyyy-mm-dd (UTC), inclusive; default: today. */
  to?: string;
  /** List these users one by one; default RECONCILE_USERS, else the account-level listing. */
  users?: readonly string[];
  /** List and compare only: nothing is queued. */
  dryRun?: boolean;
}

export interface ReconcileRun {
  runId: string;
  trigger: ReconcileTrigger;
  status: 'running' | 'ok' | 'failed';
  from: string;
  to: string;
  users: string[];
  dryRun: boolean;
  startedAt: string;
  finishedAt?: string;
  /** Date windows (≤ 30 days) and pages read so far. */
  windows: number;
  pages: number;
  meetingsListed: number;
  /** Meetings that came back a second time in this run (another page or window): counted once. */
  meetingsRepeated: number;
  filesFound: number;
  alreadyStored: number;
  /** Not stored: queued, in flight, or (dry run) would be queued. */
  missing: number;
  queued: number;
  queuedBytes: number;
  /** Queued by another run or reconciler shortly before: the uploader is on it. */
  inFlight: number;
  /** Zoom still processing the file (status not `completed`): a later run picks it up. */
  notReady: number;
  /** Not selected by UPLOAD_FILE_TYPES. */
  filtered: number;
  /** Listed without a download_url (cannot be fetched). */
  unfetchable: number;
  apiRequests: number;
  error?: string;
}

/** Another run holds the reconcile lease (this pod or another). */
export class ReconcileBusyError extends Error {
  readonly code = 'reconcile_busy';
}

/** No S2S credentials: the API cannot be listed. */
export class ReconcileUnavailableError extends Error {
  readonly code = 'zoom_api_not_configured';
}

const LEASE = 'reconcile';
const LEASE_TTL_MS = 60_000;
/** A file queued by a reconcile is not queued again by another run for this long (the uploader is on it). */
export const REQUEUE_AFTER_MS = 3 * 3_600_000;
const KEPT_RUNS = 20;

/**
 * Reconcile: what Zoom lists (desired) against the ledger of stored files (actual), queueing a work item for every
 * missing file on zoom.recording.files with the same identity and canonical id as the webhook path
 * (canonical's fileWorkItems over the listed meeting as a `recording.completed`), so a webhook and a reconcile racing
 * on a file end in one stored copy (the uploader's per-file lease and existing-object check).
 * One run at a time across pods: a lease in the dedup store, renewed while the run lasts.
 */
@Injectable()
export class ReconcileService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly runs = new Map<string, ReconcileRun>();
  private active: { run: ReconcileRun; abort: AbortController; done: Promise<ReconcileRun> } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly instance = `${hostname()}-${process.pid}`;
  private readonly selected: (fileType: string) => boolean;

  constructor(
    @Inject(CONFIG) private readonly config: AppConfig,
    @Inject(EVENT_BUS) private readonly bus: EventBus,
    @Inject(DEDUP_STORE) private readonly store: DedupStore,
    @Inject(ZOOM_API) private readonly api: ZoomApiClient | undefined,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly metrics: ReconcileMetrics,
  ) {
    this.selected = uploadFileTypeFilter(config.upload.fileTypes);
  }

  onApplicationBootstrap(): void {
    const every = this.config.reconcile.intervalMs;
    if (every <= 0 || this.api === undefined) {
      if (every > 0)
        this.logger.warn(
          {},
          'reconcile schedule off: no Server-to-Server OAuth credentials (ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID, ' +
            'ZOOM_CLIENT_SECRET)',
        );
      return;
    }
    // First run soon after start (a restart must not wait an hour to close a gap), then every interval.
    const tick = (): void => {
      this.timer = setTimeout(tick, every);
      this.timer.unref();
      this.start({}, 'schedule').catch((err: unknown) => {
        if (err instanceof ReconcileBusyError)
          this.logger.info({}, 'scheduled reconcile skipped: another run holds the lease');
        else this.logger.error({ err: { message: (err as Error).message } }, 'scheduled reconcile could not start');
      });
    };
    this.timer = setTimeout(tick, Math.min(every, 30_000));
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    const active = this.active;
    if (active) {
      active.abort.abort(new Error('shutting down'));
      await active.done.catch(() => undefined);
    }
  }

  /** Starts a run; resolves once it holds the lease (the run continues; see `get`/`wait`). */
  async start(req: ReconcileRequest, trigger: ReconcileTrigger): Promise<ReconcileRun> {
    if (this.api === undefined)
      throw new ReconcileUnavailableError(
        'the Zoom API needs Server-to-Server OAuth credentials (ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET)',
      );
    const api = this.api;
    const now = Date.now();
    const to = req.to ?? formatIsoDay(now);
    const from = req.from ?? formatIsoDay(now - this.config.reconcile.lookbackMs);
    parseIsoDay(from, 'from');
    if (parseIsoDay(to, 'to') < parseIsoDay(from, 'from')) throw new RangeError(`from (${from}) is after to (${to})`);
    if (this.active)
      throw new ReconcileBusyError(`reconcile run ${this.active.run.runId} is still running in this process`);
    const runId = randomUUID();
    const owner = `${this.instance}-${runId}`;
    if (!(await this.store.acquireLease(LEASE, owner, LEASE_TTL_MS))) {
      this.metrics.runs.inc({ trigger, status: 'busy' });
      throw new ReconcileBusyError('another reconciler holds the reconcile lease');
    }
    const run: ReconcileRun = {
      runId,
      trigger,
      status: 'running',
      from,
      to,
      users: [...(req.users ?? this.config.reconcile.users)],
      dryRun: req.dryRun === true,
      startedAt: new Date(now).toISOString(),
      windows: 0,
      pages: 0,
      meetingsListed: 0,
      meetingsRepeated: 0,
      filesFound: 0,
      alreadyStored: 0,
      missing: 0,
      queued: 0,
      queuedBytes: 0,
      inFlight: 0,
      notReady: 0,
      filtered: 0,
      unfetchable: 0,
      apiRequests: 0,
    };
    this.remember(run);
    const abort = new AbortController();
    const renew = setInterval(() => {
      this.store.renewLease(LEASE, owner, LEASE_TTL_MS).then(
        (held) => {
          if (!held) abort.abort(new Error('the reconcile lease was lost'));
        },
        () => undefined, // a store blip: the TTL covers a few missed renewals
      );
    }, LEASE_TTL_MS / 3);
    renew.unref();
    const done = this.execute(api, run, abort.signal).finally(async () => {
      clearInterval(renew);
      await this.store.releaseLease(LEASE, owner).catch(() => undefined);
      this.active = undefined;
    });
    this.active = { run, abort, done };
    this.logger.info(
      { runId, trigger, from, to, users: run.users.length, dryRun: run.dryRun },
      'reconcile run started',
    );
    return run;
  }

  /** The run until it ends. */
  async wait(runId: string): Promise<ReconcileRun | undefined> {
    if (this.active?.run.runId === runId) await this.active.done.catch(() => undefined);
    return this.get(runId);
  }

  get(runId: string): ReconcileRun | undefined {
    const run = this.runs.get(runId);
    return run && { ...run, users: [...run.users] };
  }

  /** The most recent run of this process (running or finished). */
  last(): ReconcileRun | undefined {
    const ids = [...this.runs.keys()];
    return ids.length === 0 ? undefined : this.get(ids[ids.length - 1]!);
  }

  private remember(run: ReconcileRun): void {
    this.runs.set(run.runId, run);
    while (this.runs.size > KEPT_RUNS) this.runs.delete(this.runs.keys().next().value!);
  }

  private async execute(api: ZoomApiClient, run: ReconcileRun, signal: AbortSignal): Promise<ReconcileRun> {
    const requestsBefore = api.requestCount;
    try {
      await inSpan(
        'reconcile',
        {
          kind: SpanKind.INTERNAL,
          attributes: {
            'zoom.reconcile.from': run.from,
            'zoom.reconcile.to': run.to,
            'zoom.reconcile.dry_run': run.dryRun,
          },
        },
        async () => {
          const seenMeetings = new Set<string>();
          const seenFiles = new Set<string>();
          const scopes =
            run.users.length > 0
              ? run.users.map((userId) => ({ kind: 'user' as const, userId }))
              : [{ kind: 'account' as const }];
          for (const scope of scopes) {
            let lastWindow = '';
            for await (const page of api.listRecordings({ scope, from: run.from, to: run.to, signal })) {
              if (page.window.from !== lastWindow) {
                lastWindow = page.window.from;
                run.windows += 1;
              }
              run.pages += 1;
              run.apiRequests = api.requestCount - requestsBefore;
              await this.reconcilePage(run, page.meetings, seenMeetings, seenFiles);
              signal.throwIfAborted();
            }
          }
        },
      );
      run.status = 'ok';
    } catch (err) {
      run.status = 'failed';
      run.error = (err as Error).message;
      this.logger.error(
        { runId: run.runId, err: { message: run.error, code: (err as { code?: string }).code } },
        'reconcile run failed',
      );
    }
    run.apiRequests = api.requestCount - requestsBefore;
    run.finishedAt = new Date().toISOString();
    this.metrics.runs.inc({ trigger: run.trigger, status: run.status });
    this.metrics.lastRunTime.set(Date.now() / 1000);
    this.metrics.lastRunFiles.set({ outcome: 'found' }, run.filesFound);
    this.metrics.lastRunFiles.set({ outcome: 'missing' }, run.missing);
    this.metrics.lastRunFiles.set({ outcome: 'queued' }, run.queued);
    const { users: _users, ...summary } = run;
    this.logger.info(summary, 'reconcile run finished');
    return run;
  }

  private async reconcilePage(
    run: ReconcileRun,
    meetings: ZoomRecordingMeeting[],
    seenMeetings: Set<string>,
    seenFiles: Set<string>,
  ): Promise<void> {
    const candidates: FileWorkItem[] = [];
    const listedAt = new Date().toISOString();
    for (const meeting of meetings) {
      if (seenMeetings.has(meeting.uuid)) {
        run.meetingsRepeated += 1;
        continue;
      }
      seenMeetings.add(meeting.uuid);
      run.meetingsListed += 1;
      // The listed meeting read as the recording.completed the webhook would carry: same file identities, same
      // canonical id (event, instance UUID, file ids), so both paths name each file and its object identically.
      const envelope = {
        event: 'recording.completed',
        payload: { account_id: meeting.account_id ?? '', object: meeting },
      };
      const { items, failures } = fileWorkItems({
        envelope,
        canonicalId: canonicalId(canonicalKey(envelope)),
        app: 'default',
        tokenReceivedAt: listedAt,
      });
      run.unfetchable += failures.length;
      run.filesFound += failures.length;
      for (const item of items) {
        if (seenFiles.has(item.fileId)) continue;
        seenFiles.add(item.fileId);
        run.filesFound += 1;
        candidates.push(item);
      }
    }
    if (candidates.length === 0) return;
    const stored = await storedAmong(
      this.store,
      candidates.map((i) => i.fileId),
    );
    const missing: FileWorkItem[] = [];
    const counts = { stored: 0, filtered: 0, not_ready: 0 };
    candidates.forEach((item, i) => {
      if (stored[i]) counts.stored += 1;
      else if (!this.selected(item.fileType)) counts.filtered += 1;
      else if (item.fileStatus !== undefined) counts.not_ready += 1;
      else missing.push(item);
    });
    run.alreadyStored += counts.stored;
    run.filtered += counts.filtered;
    run.notReady += counts.not_ready;
    for (const [outcome, n] of Object.entries(counts)) if (n > 0) this.metrics.files.inc({ outcome }, n);
    run.missing += missing.length;
    if (missing.length === 0 || run.dryRun) return;
    const won = await claimQueueing(
      this.store,
      missing.map((i) => i.fileId),
      run.runId,
      REQUEUE_AFTER_MS,
    );
    const outputs: OutgoingMessage[] = [];
    missing.forEach((item, i) => {
      if (!won[i]) {
        run.inFlight += 1;
        return;
      }
      outputs.push({
        topic: TOPICS.files,
        key: item.fileId,
        value: encodeFileWorkItem(item),
        headers: injectTraceHeaders({ [HEADERS.canonicalId]: item.canonicalId, 'zp-source': 'reconcile' }),
      });
    });
    if (outputs.length > 0) await this.bus.publish(outputs);
    run.queued += outputs.length;
    run.queuedBytes += missing.filter((_m, i) => won[i]).reduce((sum, m) => sum + m.fileSize, 0);
    this.metrics.files.inc({ outcome: 'queued' }, outputs.length);
    if (missing.length > outputs.length)
      this.metrics.files.inc({ outcome: 'in_flight' }, missing.length - outputs.length);
  }
}
