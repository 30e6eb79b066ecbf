import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startTestServer, testContent, type TestServer } from './testing/test-http-server';
import { ZoomDownloader } from './zoom-downloader';

/*
 * SPEC §7 invariant 5: memory bounded by configuration, not file size. A slow consumer (an S3 upload
 * waiting on a part) must pause the socket instead of letting the body pile up in memory (docs/USER-REPORTS.md #14).
 * It measures live buffer memory after a forced GC, not RSS: RSS counts garbage V8 has not collected yet, which
 * depends on the machine's load more than on the downloader.
 */

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const SIZE = 64 * 1024 * 1024;
const CHUNK_SIZE = 64 * 1024;
// A cycle of distinct chunks made once: the server allocates nothing while serving, so the RSS we
// measure is the downloader's (and a reordered chunk still changes the hash).
const CHUNKS = Array.from({ length: 17 }, (_, i) => testContent(CHUNK_SIZE, i + 1));

describe('ZoomDownloader backpressure', () => {
  let server: TestServer;
  let served = '';

  beforeAll(async () => {
    server = await startTestServer('127.0.0.1', (_req, res) => {
      res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(SIZE) });
      const hash = createHash('sha256');
      let sent = 0;
      // The server honours backpressure too, so any growth we see is the downloader's buffering.
      const writeMore = (): void => {
        while (sent < SIZE) {
          const chunk = CHUNKS[(sent / CHUNK_SIZE) % CHUNKS.length]!;
          hash.update(chunk);
          sent += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', writeMore);
            return;
          }
        }
        served = hash.digest('hex');
        res.end();
      };
      writeMore();
    });
  });
  afterAll(() => server.close());

  it('streams 64 MiB to a slow consumer with bounded buffering and memory', async () => {
    const downloader = new ZoomDownloader({ allowedHosts: ['127.0.0.1'], idleTimeoutMs: 5_000 });
    const stream = await downloader.open({
      url: `${server.origin}/big.mp4`,
      expectedSize: SIZE,
      tokens: [{ token: 't', source: 'webhook', receivedAtMs: Date.now() }],
    });

    gc();
    const baseline = process.memoryUsage().arrayBuffers;
    let peakLive = baseline;
    let peakBuffered = 0;
    const sampler = setInterval(() => {
      gc();
      gc(); // the second collection frees the backing stores the first one only released
      peakLive = Math.max(peakLive, process.memoryUsage().arrayBuffers);
    }, 250);
    const received = createHash('sha256');
    let writes = 0;
    const slowConsumer = new Writable({
      highWaterMark: 64 * 1024,
      write(chunk: Buffer, _enc, callback) {
        received.update(chunk);
        peakBuffered = Math.max(peakBuffered, stream.body.readableLength);
        writes += 1;
        // Slower than loopback: a pause every few chunks, like an upload waiting for its part to go out.
        if (writes % 8 === 0) setTimeout(callback, 1);
        else setImmediate(callback);
      },
    });

    try {
      await pipeline(stream.body, slowConsumer);
    } finally {
      clearInterval(sampler);
    }

    expect(received.digest('hex')).toBe(served);
    expect(stream.stats()).toMatchObject({ bytes: SIZE, attempts: 1, resumes: 0 });
    // The body buffer never holds more than its high-water mark plus one socket chunk.
    expect(peakBuffered).toBeLessThanOrEqual(512 * 1024);
    // Live buffers stay a few socket chunks whatever the file size; buffering the body would keep up to 64 MiB.
    expect(peakLive - baseline).toBeLessThan(8 * 1024 * 1024);
  }, 60_000);
});
