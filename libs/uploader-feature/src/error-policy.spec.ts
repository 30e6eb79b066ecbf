import { DedupStoreUnavailableError } from '@zoom-pipeline/dedup-store';
import { ObjectStoreError } from '@zoom-pipeline/object-store';
import { DownloadError } from '@zoom-pipeline/zoom-download';
import { FileBusyError, classifyUploadError, nextRetryAt } from './error-policy';

const sizeMismatchMidBody = new DownloadError('download_size_mismatch', 'sent more than file_size (10 bytes)', {
  retryable: false,
  host: 'ssrweb.zoom.us',
});

describe('classifyUploadError: by cause, not by the layer that threw', () => {
  it.each<[string, unknown, object]>([
    [
      'a size mismatch found mid-body, wrapped by the store',
      new ObjectStoreError('put k failed: the body stream failed (DownloadError)', true, {
        cause: sizeMismatchMidBody,
        failure: 'source_failed',
      }),
      { kind: 'permanent', reason: 'download_size_mismatch' },
    ],
    [
      'a body of another length than contentLength',
      new ObjectStoreError('size mismatch: …', false, { failure: 'size_mismatch' }),
      { kind: 'permanent', reason: 'download_size_mismatch' },
    ],
    [
      'a metadata value the store refuses',
      new ObjectStoreError('invalid metadata value', false, { failure: 'metadata_rejected' }),
      { kind: 'permanent', reason: 'metadata_rejected' },
    ],
    [
      'a key segment over 255 bytes (ENAMETOOLONG)',
      new ObjectStoreError('filesystem put failed (ENAMETOOLONG)', false, { failure: 'key_rejected' }),
      { kind: 'permanent', reason: 'object_key_rejected' },
    ],
    [
      'an HTML page for a bad token',
      new DownloadError('download_html_response', 'html', { retryable: false }),
      { kind: 'permanent', reason: 'download_html_response' },
    ],
    [
      'Zoom 429 with Retry-After',
      new DownloadError('download_http_error', 'answered HTTP 429', {
        retryable: true,
        status: 429,
        retryAfterMs: 10_000,
      }),
      { kind: 'transient', reason: 'download_http_error', retryAfterMs: 10_000 },
    ],
    [
      'a connection reset that broke the upload',
      new ObjectStoreError('body stream failed', true, {
        cause: new DownloadError('download_network', 'ECONNRESET', { retryable: true }),
        failure: 'source_failed',
      }),
      { kind: 'transient', reason: 'download_network' },
    ],
    [
      'S3 unavailable',
      new ObjectStoreError('s3 put failed (HTTP 503)', true),
      { kind: 'transient', reason: 'store_failed' },
    ],
    [
      'S3 credentials refused (our configuration, not the file)',
      new ObjectStoreError('s3 put failed (HTTP 403)', false),
      { kind: 'transient', reason: 'store_failed' },
    ],
    [
      'Redis down',
      new DedupStoreUnavailableError('redis down'),
      { kind: 'transient', reason: 'dedup_store_unavailable' },
    ],
    ['another transfer of the file', new FileBusyError('f-1'), { kind: 'transient', reason: 'file_busy' }],
    [
      'anything else',
      new RangeError('token abc in here'),
      { kind: 'transient', reason: 'unexpected', message: 'unexpected RangeError' },
    ],
  ])('%s', (_name, err, expected) => {
    expect(classifyUploadError(err)).toMatchObject(expected);
  });
});

describe('nextRetryAt', () => {
  const policy = { budgetMs: 30 * 60_000, maxDelayMs: 5 * 60_000 };

  it('backs off exponentially, with jitter within [half, full] of the step, up to the max delay', () => {
    const at = (attempt: number, r: number) => nextRetryAt({ ...policy, random: () => r }, attempt, 0, Infinity)!;
    expect([at(1, 0), at(1, 1)]).toEqual([2_500, 5_000]);
    expect(at(3, 0)).toBe(10_000);
    expect(at(20, 1)).toBe(300_000);
  });

  it('never retries before Retry-After, nor after the deadline', () => {
    expect(nextRetryAt({ ...policy, random: () => 0 }, 1, 1_000, Infinity, 60_000)).toBe(61_000);
    expect(nextRetryAt({ ...policy, random: () => 0 }, 1, 1_000, 20_000, 60_000)).toBe(20_000);
  });

  it(
    'waits out a 10-minute Zoom 503/429 storm within the default budget: never gives up, tries again soon ' +
      'after it ends',
    () => {
      for (const r of [0, 0.5, 0.999]) {
        const stormEndsMs = 10 * 60_000;
        const deadlineMs = policy.budgetMs;
        let now = 0;
        let attempt = 0;
        // Every try during the storm gets 503/429 with Retry-After: 60 (the worst Zoom announces in practice).
        while (now < stormEndsMs) {
          attempt++;
          const next = nextRetryAt({ ...policy, random: () => r }, attempt, now, deadlineMs, 60_000);
          expect(next).toBeDefined();
          now = next!;
        }
        // The first try after the storm comes at most one max delay later, well inside the 30-minute budget.
        expect(now).toBeLessThanOrEqual(stormEndsMs + policy.maxDelayMs);
        expect(now).toBeLessThan(deadlineMs);
      }
    },
  );

  it('gives up once the deadline has passed', () => {
    expect(nextRetryAt(policy, 7, 20_000, 20_000)).toBeUndefined();
  });
});
