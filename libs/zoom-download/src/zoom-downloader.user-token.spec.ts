// The linked user's OAuth token (accounts feature, USER_ACCESS_TOKENS-style port): tried after the webhook's tokens
// and before S2S, only for a request that names its owner.
import { type IncomingMessage, type ServerResponse } from 'node:http';
import { type Readable } from 'node:stream';
import { serveBytes, sha256, startTestServer, testContent, type TestServer } from './testing/test-http-server';
import { ZoomDownloader } from './zoom-downloader';
import type { DownloadRequest, RecordingOwner, UserAccessTokens } from './zoom-download.port';

const NOW = 1_750_000_000_000;
const OWNER: RecordingOwner = { zoomUserId: 'host-1', accountId: 'acct-1' };

function readAll(body: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    body.on('data', (c: Buffer) => parts.push(c));
    body.once('end', () => resolve(Buffer.concat(parts)));
    body.once('error', reject);
  });
}

describe("ZoomDownloader with linked users' OAuth tokens", () => {
  let origin: TestServer;
  let presigned: TestServer;
  const content = testContent(64 * 1024, 3);
  const asked: RecordingOwner[] = [];
  const userTokens: UserAccessTokens = {
    accessTokenFor: async (owner) => {
      asked.push(owner);
      return owner.zoomUserId === 'host-1' ? 'user-oauth-token' : undefined;
    },
  };

  beforeEach(async () => {
    asked.length = 0;
    origin = await startTestServer('127.0.0.1');
    presigned = await startTestServer('127.0.0.2', (req, res) => serveBytes(req, res, content));
    origin.handler = (req: IncomingMessage, res: ServerResponse) => {
      if (req.headers.authorization !== 'Bearer user-oauth-token') {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html>Only the host can download this recording.</html>');
        return;
      }
      res.writeHead(302, { location: `${presigned.origin}/ssr/file-1?Policy=p&Signature=s&Key-Pair-Id=k` });
      res.end();
    };
  });
  afterEach(async () => {
    await origin.close();
    await presigned.close();
  });

  const downloader = (): ZoomDownloader =>
    new ZoomDownloader({
      allowedHosts: ['127.0.0.1', '127.0.0.2'],
      userAccessTokens: userTokens,
      backoff: { baseMs: 1, maxMs: 5 },
      now: () => NOW,
    });
  const request = (extra: Partial<DownloadRequest> = {}): DownloadRequest => ({
    url: `${origin.origin}/rec/webhook_download/file-1/opaque`,
    expectedSize: content.length,
    tokens: [{ token: 'rejected-webhook-token', source: 'webhook', receivedAtMs: NOW }],
    ...extra,
  });

  it("uses the owner's token when the webhook token is rejected", async () => {
    const stream = await downloader().open(request({ owner: OWNER }));
    expect(sha256(await readAll(stream.body))).toBe(sha256(content));
    expect(stream.stats().tokenSource).toBe('user_oauth');
    expect(origin.requests.map((r) => r.headers.authorization)).toEqual([
      'Bearer rejected-webhook-token',
      'Bearer user-oauth-token',
    ]);
    expect(presigned.requests.every((r) => r.headers.authorization === undefined)).toBe(true);
  });

  it('uses it when the webhook carried no token at all', async () => {
    const stream = await downloader().open(request({ owner: OWNER, tokens: [] }));
    expect(sha256(await readAll(stream.body))).toBe(sha256(content));
    expect(origin.requests).toHaveLength(1);
  });

  it('never asks without an owner, and fails clearly when the owner has no usable token', async () => {
    await expect(downloader().open(request())).rejects.toMatchObject({ retryable: false });
    expect(asked).toEqual([]);
    await expect(
      downloader().open(request({ owner: { zoomUserId: 'someone-else', accountId: 'acct-1' } })),
    ).rejects.toMatchObject({ retryable: false });
    expect(asked).toEqual([{ zoomUserId: 'someone-else', accountId: 'acct-1' }]);
  });
});
