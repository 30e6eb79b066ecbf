import { createServer, type IncomingHttpHeaders } from 'node:http';
import { type AddressInfo } from 'node:net';

/*
 * A stand-in webhook endpoint for the simulator's own tests: records every request and answers as the
 * test scripts it (status, delay, or never). Not part of the public API.
 */

export interface CapturedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Real epoch ms at arrival. */
  receivedAt: number;
}

export interface ScriptedAnswer {
  status?: number;
  body?: string;
  /** Answer after this many real ms. */
  delayMs?: number;
  /** Never answer (the socket is only closed by close()). */
  hang?: boolean;
}

export interface CaptureServer {
  url: string;
  requests: CapturedRequest[];
  close(): Promise<void>;
}

export async function startCaptureServer(
  answer: (req: CapturedRequest, index: number) => ScriptedAnswer = () => ({ status: 200 }),
): Promise<CaptureServer> {
  const requests: CapturedRequest[] = [];
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const captured: CapturedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(parts),
        receivedAt: Date.now(),
      };
      const index = requests.push(captured) - 1;
      const a = answer(captured, index);
      if (a.hang === true) return;
      const reply = (): void => {
        if (res.destroyed) return;
        res.writeHead(a.status ?? 200, { 'content-type': 'application/json' }).end(a.body ?? '{}');
      };
      if (a.delayMs !== undefined) setTimeout(reply, a.delayMs);
      else reply();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhooks/zoom`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
