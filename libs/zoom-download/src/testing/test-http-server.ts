import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo, type Socket } from 'node:net';

/*
 * Tiny node:http servers for this lib's specs: each records what reached it (connections, request
 * heads) so a test can assert that a refused host received nothing and that the credential went to the
 * first hop only. Specs import it relatively; nothing outside the specs uses it.
 */

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

export type TestHandler = (req: IncomingMessage, res: ServerResponse, index: number) => void;

export interface TestServer {
  /** `http://<host>:<port>` */
  readonly origin: string;
  readonly host: string;
  readonly port: number;
  readonly requests: RecordedRequest[];
  /** TCP connections accepted, whether or not a request followed. */
  connections: number;
  /** Sockets closed by their peer (or us) so far. */
  closedSockets: number;
  handler: TestHandler;
  close(): Promise<void>;
}

export async function startTestServer(
  host: string,
  handler: TestHandler = (_req, res) => res.end(),
): Promise<TestServer> {
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const index = state.requests.length;
    state.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    state.handler(req, res, index);
  });
  server.on('connection', (socket: Socket) => {
    state.connections += 1;
    sockets.add(socket);
    socket.once('close', () => {
      state.closedSockets += 1;
      sockets.delete(socket);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const state: TestServer = {
    origin: `http://${host}:${port}`,
    host,
    port,
    requests: [],
    connections: 0,
    closedSockets: 0,
    handler,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  return state;
}

/** Deterministic bytes (no two 4-byte windows alike for small files), so a misplaced chunk changes the hash. */
export function testContent(size: number, seed = 1): Buffer {
  const buf = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i += 1) {
    // xorshift32
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    buf[i] = x & 0xff;
  }
  return buf;
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Parses `bytes=<start>-` as sent by the downloader; undefined without a Range header. */
export function rangeStart(req: IncomingMessage): number | undefined {
  const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  return m ? Number(m[1]) : undefined;
}

/** Serves `content` honouring `Range: bytes=n-` with a 206, like Zoom's pre-signed file host. */
export function serveBytes(
  req: IncomingMessage,
  res: ServerResponse,
  content: Buffer,
  contentType = 'video/mp4',
): void {
  const start = rangeStart(req);
  if (start !== undefined) {
    res.writeHead(206, {
      'content-type': contentType,
      'content-length': String(content.length - start),
      'content-range': `bytes ${start}-${content.length - 1}/${content.length}`,
    });
    res.end(content.subarray(start));
    return;
  }
  res.writeHead(200, { 'content-type': contentType, 'content-length': String(content.length) });
  res.end(content);
}

/**
 * Writes the first `cut` bytes of the answer (headers declaring the full length), then destroys the
 * socket: the mid-body reset of docs/USER-REPORTS.md #13.
 */
export function serveBytesThenReset(req: IncomingMessage, res: ServerResponse, content: Buffer, cut: number): void {
  const start = rangeStart(req) ?? 0;
  const headers: Record<string, string> = {
    'content-type': 'video/mp4',
    'content-length': String(content.length - start),
  };
  if (start > 0) headers['content-range'] = `bytes ${start}-${content.length - 1}/${content.length}`;
  res.writeHead(start > 0 ? 206 : 200, headers);
  res.write(content.subarray(start, start + cut), () => {
    // Give the bytes a moment to leave before the reset, or the kernel may drop them with the socket.
    setTimeout(() => res.socket?.destroy(), 20);
  });
}
