import { Readable } from 'node:stream';
import { loadConfig } from '@zoom-pipeline/config';
import type { UploadResult } from '@zoom-pipeline/contracts';
import { MemoryDedupStore } from '@zoom-pipeline/dedup-store';
import { MemoryObjectStore } from '@zoom-pipeline/object-store';
import { createLogger } from '@zoom-pipeline/telemetry';
import type { ZoomApiClient } from '@zoom-pipeline/zoom-api';
import { Registry } from 'prom-client';
import { ReconcileMetrics } from './reconcile.metrics';
import { TrashService } from './trash.service';

const BYTES = Buffer.from('the recording bytes');

async function setup(afterUpload: 'trash' | 'keep' = 'trash') {
  const objects = new MemoryObjectStore();
  const stored = await objects.put({
    key: 'acct/2026/02/01/rec-MP4-f1.MP4',
    body: Readable.from([BYTES]),
    contentLength: BYTES.length,
    metadata: { 'zoom-file-id': 'f1' },
  });
  const trashed: string[] = [];
  const api = {
    trashRecordingFile: async (uuid: string, id: string) => void trashed.push(`${uuid}/${id}`),
  } as unknown as ZoomApiClient;
  const config = loadConfig({ ZOOM_WEBHOOK_SECRET_TOKEN: 't', ZOOM_AFTER_UPLOAD: afterUpload });
  const service = new TrashService(
    config,
    new MemoryDedupStore(),
    api,
    createLogger({ name: 'test', level: 'silent' }),
    new ReconcileMetrics(new Registry()),
    objects,
  );
  const result = (over: Partial<UploadResult> = {}): UploadResult => ({
    v: 1,
    fileId: 'f1',
    canonicalId: 'c1',
    meetingUuid: 'uuid-1==',
    bucket: stored.bucket,
    key: stored.key,
    size: stored.size,
    sha256: stored.sha256,
    etag: stored.etag,
    durationMs: 5,
    alreadyStored: false,
    uploadedAt: '2026-02-01T12:00:00Z',
    ...over,
  });
  return { service, trashed, result };
}

describe('TrashService (ZOOM_AFTER_UPLOAD=trash)', () => {
  it('is off by default', async () => {
    expect((await setup('keep')).service.enabled).toBe(false);
    expect(loadConfig({ ZOOM_WEBHOOK_SECRET_TOKEN: 't' }).reconcile.afterUpload).toBe('keep');
  });

  it('trashes a file once its stored copy matches size and SHA-256, and only once', async () => {
    const { service, trashed, result } = await setup();
    expect(await service.afterUploads([result(), result({ alreadyStored: true })])).toEqual([
      'trashed',
      'already_trashed',
    ]);
    expect(trashed).toEqual(['uuid-1==/f1']);
  });

  it.each([
    ['the object is missing', { key: 'acct/elsewhere.MP4' }],
    ['the size differs', { size: BYTES.length + 1 }],
    ['the SHA-256 differs', { sha256: 'a'.repeat(64) }],
    ['no SHA-256 was recorded', { sha256: '' }],
    ['the object is another file', { fileId: 'f2' }],
  ])('trashes nothing when %s', async (_name, over) => {
    const { service, trashed, result } = await setup();
    expect(await service.afterUploads([result(over)])).toEqual(['unverified']);
    expect(trashed).toEqual([]);
  });

  it('never trashes a file without its own Zoom id, and reports a failed trash call without throwing', async () => {
    const { service, trashed, result } = await setup();
    expect(await service.afterUploads([result({ fileId: 'derived-0123' }), result({ fileId: 'f1~abc' })])).toEqual([
      'not_trashable',
      'not_trashable',
    ]);
    expect(trashed).toEqual([]);
    (service as unknown as { api: { trashRecordingFile: () => Promise<void> } }).api.trashRecordingFile = async () => {
      throw new Error('DELETE /meetings/{meetingId}/recordings/{recordingId}: HTTP 500 after 6 attempts');
    };
    expect(await service.afterUploads([result()])).toEqual(['failed']);
  });
});
