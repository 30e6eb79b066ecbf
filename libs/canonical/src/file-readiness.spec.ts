import type { FileWorkItem } from '@zoom-pipeline/contracts';
import { DEFAULT_UNFINISHED_WAIT_MS, fileReadiness } from './file-readiness';

const T0 = Date.parse('2026-11-23T10:00:00Z');
const item = (over: Partial<FileWorkItem> = {}): FileWorkItem => ({
  v: 1,
  fileId: 'f',
  canonicalId: 'c',
  app: 'default',
  accountId: 'a',
  meetingUuid: 'm',
  meetingId: '1',
  topic: 't',
  hostId: 'h',
  meetingStartTime: 's',
  recordingStart: 's',
  recordingEnd: 'e',
  fileType: 'MP4',
  fileExtension: 'MP4',
  fileSize: 10,
  downloadUrl: 'https://us06web.zoom.us/rec/webhook_download/a/b',
  downloadToken: 'tok',
  tokenReceivedAt: new Date(T0).toISOString(),
  ...over,
});

describe('fileReadiness', () => {
  it('downloads a complete file with its size, and one without a size as a stream of unknown length', () => {
    expect(fileReadiness({ item: item(), nowMs: T0, oauthConfigured: false })).toEqual({
      action: 'download',
      expectedSize: 10,
    });
    expect(
      fileReadiness({ item: item({ sizeUnknown: true, fileSize: 0 }), nowMs: T0, oauthConfigured: false }),
    ).toEqual({ action: 'download' });
  });

  it('fails a file with no token and no OAuth credential configured, naming what to configure', () => {
    const noToken = item({ downloadToken: undefined });
    const r = fileReadiness({ item: noToken, nowMs: T0, oauthConfigured: false });
    expect(r).toMatchObject({ action: 'fail', reason: 'download_credentials_missing' });
    expect(r.action === 'fail' && r.message).toContain('ZOOM_CLIENT_SECRET');
    expect(fileReadiness({ item: noToken, nowMs: T0, oauthConfigured: true })).toEqual({
      action: 'download',
      expectedSize: 10,
    });
    // another copy's token counts
    const withAlternate = item({
      downloadToken: undefined,
      alternates: [{ downloadUrl: 'https://x', downloadToken: 't2', receivedAt: 'r' }],
    });
    expect(fileReadiness({ item: withAlternate, nowMs: T0, oauthConfigured: false }).action).toBe('download');
  });

  it('waits for a processing file within the bound, then fails it with file_not_completed', () => {
    const busy = item({ fileStatus: 'processing' });
    expect(fileReadiness({ item: busy, nowMs: T0, oauthConfigured: true })).toEqual({
      action: 'wait',
      retryAfterMs: 5 * 60_000,
    });
    expect(fileReadiness({ item: busy, nowMs: T0 + DEFAULT_UNFINISHED_WAIT_MS - 1000, oauthConfigured: true })).toEqual(
      { action: 'wait', retryAfterMs: 1000 },
    );
    const late = fileReadiness({ item: busy, nowMs: T0 + DEFAULT_UNFINISHED_WAIT_MS, oauthConfigured: true });
    expect(late).toMatchObject({ action: 'fail', reason: 'file_not_completed' });
    expect(late.action === 'fail' && late.message).toContain('processing 24 h');
    expect(fileReadiness({ item: busy, nowMs: T0 + 2000, oauthConfigured: true, maxWaitMs: 1000 }).action).toBe('fail');
  });

  it('fails an unfinished file with an unreadable receipt time rather than waiting forever', () => {
    expect(
      fileReadiness({
        item: item({ fileStatus: 'processing', tokenReceivedAt: 'garbage' }),
        nowMs: T0,
        oauthConfigured: true,
      }).action,
    ).toBe('fail');
  });
});
