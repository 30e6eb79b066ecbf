import { type FileWorkItem, TOPICS, type UploadFailure } from '@zoom-pipeline/contracts';
import { MemoryDedupStore } from '@zoom-pipeline/dedup-store';
import { MemoryEventBus } from '@zoom-pipeline/event-bus';
import { createLogger } from '@zoom-pipeline/telemetry';
import { Registry } from 'prom-client';
import { ReconcileMetrics } from './reconcile.metrics';
import { RedriveService } from './redrive.service';
import { STORED_OWNER, storedKey } from './stored-ledger';

function item(fileId: string, meetingUuid: string): Omit<FileWorkItem, 'downloadToken'> {
  return {
    v: 1,
    fileId,
    canonicalId: `c-${meetingUuid}`,
    app: 'default',
    accountId: 'acct',
    meetingUuid,
    meetingId: '1',
    topic: 't',
    hostId: 'h',
    meetingStartTime: '2026-02-01T10:00:00Z',
    recordingStart: '2026-02-01T10:00:05Z',
    recordingEnd: '2026-02-01T11:00:05Z',
    fileType: 'MP4',
    fileExtension: 'MP4',
    fileSize: 10,
    downloadUrl: `https://zoom.us/rec/webhook_download/${fileId}/x`,
    tokenReceivedAt: '2026-02-01T11:02:00Z',
  };
}

function failure(fileId: string, meetingUuid: string, reason: UploadFailure['reason'], withItem = true): UploadFailure {
  const f: UploadFailure = {
    v: 1,
    fileId,
    canonicalId: `c-${meetingUuid}`,
    reason,
    message: 'why',
    attempts: 1,
    failedAt: '2026-02-01T12:00:00Z',
  };
  if (withItem) f.item = item(fileId, meetingUuid);
  return f;
}

describe('RedriveService on the embedded bus (standalone)', () => {
  it('re-queues each still-missing file once, by reason and by meeting, with its recorded work item', async () => {
    const bus = new MemoryEventBus();
    await bus.ensureTopics([
      { topic: TOPICS.failed, partitions: 3 },
      { topic: TOPICS.files, partitions: 12 },
    ]);
    const store = new MemoryDedupStore();
    const failures = [
      failure('f1', 'm1', 'download_unauthorized'),
      failure('f2', 'm1', 'download_unauthorized'),
      failure('f1', 'm1', 'download_unauthorized'), // failed again after an earlier redrive: one file
      failure('f3', 'm2', 'download_unauthorized'),
      failure('f4', 'm2', 'retry_budget_exhausted'),
      failure('f5', 'm2', 'download_url_missing', false),
      failure('f6', 'm2', 'download_unauthorized'),
    ];
    await bus.publish(
      failures.map((f) => ({ topic: TOPICS.failed, key: f.fileId, value: Buffer.from(JSON.stringify(f)) })),
    );
    await store.claimMany([{ key: storedKey('f6'), owner: STORED_OWNER, ttlMs: 60_000 }]);
    const queued: string[] = [];
    const publish = bus.publish.bind(bus);
    bus.publish = async (messages) => {
      for (const m of messages)
        if (m.topic === TOPICS.files) queued.push(JSON.parse(m.value.toString()).fileId as string);
      return publish(messages);
    };
    const service = new RedriveService(
      bus,
      store,
      createLogger({ name: 'test', level: 'silent' }),
      new ReconcileMetrics(new Registry()),
    );

    const dry = await service.redrive({ reason: 'download_unauthorized', dryRun: true });
    expect(dry).toMatchObject({
      scanned: 7,
      files: 6,
      matched: 4,
      alreadyStored: 1,
      queued: 0,
      byReason: { download_unauthorized: 3 },
    });
    expect(queued).toEqual([]);

    const byMeeting = await service.redrive({ meetingUuid: 'm1' });
    expect(byMeeting).toMatchObject({ matched: 2, queued: 2 });
    expect(queued.sort()).toEqual(['f1', 'f2']);

    const all = await service.redrive({});
    expect(all).toMatchObject({ matched: 6, notRedrivable: 1, alreadyStored: 1, queued: 4 });
    await bus.close();
  });
});
