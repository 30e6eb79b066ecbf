import { loadConfig } from '@zoom-pipeline/config';
import { type FileWorkItem, TOPICS } from '@zoom-pipeline/contracts';
import { MemoryDedupStore } from '@zoom-pipeline/dedup-store';
import { type EventBus, type OutgoingMessage } from '@zoom-pipeline/event-bus';
import { createLogger } from '@zoom-pipeline/telemetry';
import type {
  ListRecordingsRequest,
  RecordingPage,
  ZoomApiClient,
  ZoomRecordingMeeting,
} from '@zoom-pipeline/zoom-api';
import { Registry } from 'prom-client';
import { ReconcileMetrics } from './reconcile.metrics';
import { ReconcileBusyError, ReconcileService } from './reconcile.service';
import { STORED_OWNER, storedKey } from './stored-ledger';

function meeting(uuid: string, files: Array<Record<string, unknown>>): ZoomRecordingMeeting {
  return {
    uuid,
    id: 85746065123,
    account_id: 'acct-1',
    host_id: 'host-1',
    topic: 'Weekly',
    start_time: '2026-02-01T10:00:00Z',
    recording_files: files,
  };
}

function file(id: string | undefined, over: Record<string, unknown> = {}): Record<string, unknown> {
  const f: Record<string, unknown> = {
    id,
    meeting_id: 'x',
    recording_start: '2026-02-01T10:00:05Z',
    recording_end: '2026-02-01T11:00:05Z',
    file_type: 'MP4',
    file_extension: 'MP4',
    file_size: 1000,
    download_url: `https://zoom.us/rec/download/${id ?? 'cc'}`,
    status: 'completed',
    ...over,
  };
  if (id === undefined) delete f.id;
  return f;
}

/** A fake API: pages as given, possibly repeating a meeting across pages as a listing can. */
function fakeApi(
  pages: ZoomRecordingMeeting[][],
  gate?: Promise<void>,
): ZoomApiClient & { requests: ListRecordingsRequest[] } {
  const requests: ListRecordingsRequest[] = [];
  return {
    requests,
    requestCount: 0,
    async *listRecordings(req: ListRecordingsRequest): AsyncGenerator<RecordingPage> {
      requests.push(req);
      await gate;
      let page = 0;
      for (const meetings of pages) yield { window: { from: req.from, to: req.to }, page: ++page, meetings };
    },
  } as unknown as ZoomApiClient & { requests: ListRecordingsRequest[] };
}

function setup(pages: ZoomRecordingMeeting[][], env: Record<string, string> = {}, gate?: Promise<void>) {
  const config = loadConfig({ ZOOM_WEBHOOK_SECRET_TOKEN: 't', RECONCILE_INTERVAL: 'off', ...env });
  const published: OutgoingMessage[] = [];
  const bus = { publish: async (m: OutgoingMessage[]) => void published.push(...m) } as unknown as EventBus;
  const store = new MemoryDedupStore();
  const api = fakeApi(pages, gate);
  const service = new ReconcileService(
    config,
    bus,
    store,
    api,
    createLogger({ name: 'test', level: 'silent' }),
    new ReconcileMetrics(new Registry()),
  );
  const items = (): FileWorkItem[] =>
    published.filter((m) => m.topic === TOPICS.files).map((m) => JSON.parse(m.value.toString()) as FileWorkItem);
  return { service, store, api, published, items };
}

async function runToEnd(service: ReconcileService, req = {}) {
  const run = await service.start({ from: '2026-02-01', to: '2026-02-02', ...req }, 'api');
  return (await service.wait(run.runId))!;
}

describe('ReconcileService', () => {
  it("queues every listed file not stored, with the webhook path's identity, keyed by file id", async () => {
    const a = meeting('uuid-a==', [
      file('f-a1'),
      file('f-a2', { file_type: 'M4A', file_extension: 'M4A' }),
      file(undefined, { file_type: 'CC', file_extension: 'VTT', file_size: undefined }),
    ]);
    const b = meeting('uuid-b==', [file('f-b1')]);
    const { service, store, items, published } = setup([[a], [b, a]]);
    await store.claimMany([{ key: storedKey('f-b1'), owner: STORED_OWNER, ttlMs: 60_000 }]);

    const run = await runToEnd(service);

    expect(run).toMatchObject({
      status: 'ok',
      pages: 2,
      meetingsListed: 2,
      meetingsRepeated: 1,
      filesFound: 4,
      alreadyStored: 1,
      missing: 3,
      queued: 3,
      queuedBytes: 2000,
    });
    const ids = items().map((i) => i.fileId);
    expect(ids.slice(0, 2)).toEqual(['f-a1', 'f-a2']);
    expect(ids[2]).toMatch(/^derived-[0-9a-f]{32}$/);
    expect(published.every((m) => m.key === JSON.parse(m.value.toString()).fileId)).toBe(true);
    // No token: the uploader downloads with S2S; the canonical id is the webhook's (event, UUID, file ids).
    expect(items().every((i) => i.downloadToken === undefined && i.canonicalId === items()[0]!.canonicalId)).toBe(true);
    expect(items()[2]).toMatchObject({ sizeUnknown: true, meetingUuid: 'uuid-a==', accountId: 'acct-1' });
  });

  it(
    "a second run queues nothing while the first run's files are on their way, and a dry run queues nothing " +
      'at all',
    async () => {
      const m = meeting('uuid-c==', [file('f-c1'), file('f-c2')]);
      const first = setup([[m]]);
      expect(await runToEnd(first.service)).toMatchObject({ queued: 2 });
      expect(await runToEnd(first.service)).toMatchObject({ missing: 2, inFlight: 2, queued: 0 });
      expect(first.items()).toHaveLength(2);

      const dry = setup([[m]]);
      expect(await runToEnd(dry.service, { dryRun: true })).toMatchObject({ missing: 2, queued: 0, dryRun: true });
      expect(dry.published).toHaveLength(0);
    },
  );

  it('leaves files Zoom is still processing and types outside UPLOAD_FILE_TYPES to a later run', async () => {
    const m = meeting('uuid-d==', [
      file('f-d1', { status: 'processing' }),
      file('f-d2', { file_type: 'CHAT', file_extension: 'TXT' }),
      file('f-d3'),
    ]);
    const { service, items } = setup([[m]], { UPLOAD_FILE_TYPES: 'MP4' });
    expect(await runToEnd(service)).toMatchObject({ filesFound: 3, notReady: 1, filtered: 1, queued: 1 });
    expect(items().map((i) => i.fileId)).toEqual(['f-d3']);
  });

  it('runs one at a time: a second start while a run holds the lease is refused', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const { service } = setup([[meeting('uuid-e==', [file('f-e1')])]], {}, gate);
    const run = await service.start({ from: '2026-02-01', to: '2026-02-01' }, 'api');
    await expect(service.start({ from: '2026-02-01', to: '2026-02-01' }, 'api')).rejects.toBeInstanceOf(
      ReconcileBusyError,
    );
    open();
    expect(await service.wait(run.runId)).toMatchObject({ status: 'ok', queued: 1 });
    expect(service.last()?.runId).toBe(run.runId);
  });

  it('lists each configured user, or the account when none is', async () => {
    const s = setup([[]], { RECONCILE_USERS: 'u1,u2' });
    await runToEnd(s.service);
    expect(s.api.requests.map((r) => r.scope)).toEqual([
      { kind: 'user', userId: 'u1' },
      { kind: 'user', userId: 'u2' },
    ]);
    const t = setup([[]]);
    await runToEnd(t.service);
    expect(t.api.requests.map((r) => r.scope)).toEqual([{ kind: 'account' }]);
  });
  it('runs every RECONCILE_INTERVAL over the last RECONCILE_LOOKBACK, and never when off', async () => {
    jest.useFakeTimers({
      doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'],
      now: Date.parse('2026-03-10T12:00:00Z'),
    });
    try {
      const { service, api } = setup([[meeting('uuid-s==', [file('f-s1')])]], {
        RECONCILE_INTERVAL: '10m',
        RECONCILE_LOOKBACK: '72h',
      });
      service.onApplicationBootstrap();
      await jest.advanceTimersByTimeAsync(30_000);
      await service.wait(service.last()!.runId);
      expect(service.last()).toMatchObject({
        trigger: 'schedule',
        from: '2026-03-07',
        to: '2026-03-10',
        status: 'ok',
        queued: 1,
      });
      await jest.advanceTimersByTimeAsync(10 * 60_000);
      await service.wait(service.last()!.runId);
      expect(api.requests).toHaveLength(2);
      await service.onApplicationShutdown();

      const off = setup([[]], { RECONCILE_INTERVAL: 'off' });
      off.service.onApplicationBootstrap();
      await jest.advanceTimersByTimeAsync(2 * 3_600_000);
      expect(off.api.requests).toHaveLength(0);
    } finally {
      jest.useRealTimers();
    }
  });
});
