import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FaultProxyOptions {
  target: string;
  /** Probability of answering 503 SlowDown without forwarding. */
  error5xx?: number;
  /** Probability of destroying the client socket without an answer. */
  reset?: number;
  /** Extra latency per request, ms (uniform 0..latencyMs). */
  latencyMs?: number;
}

export interface FaultProxy {
  url: string;
  stats(): { forwarded: number; injected5xx: number; injectedResets: number };
  setFaults(f: Partial<Omit<FaultProxyOptions, 'target'>>): void;
  close(): Promise<void>;
}

/**
 * A fault-injecting HTTP proxy for S3 in chaos tests: forwards requests untouched (Host header included,
 * so SigV4 signatures stay valid) or answers 503 / resets the connection at the configured rates.
 */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  let faults = { error5xx: options.error5xx ?? 0, reset: options.reset ?? 0, latencyMs: options.latencyMs ?? 0 };
  const counts = { forwarded: 0, injected5xx: 0, injectedResets: 0 };
  const server = http.createServer((req, res) => {
    const delay = faults.latencyMs > 0 ? Math.random() * faults.latencyMs : 0;
    setTimeout(() => {
      const roll = Math.random();
      if (roll < faults.reset) {
        counts.injectedResets++;
        req.socket.destroy();
        return;
      }
      if (roll < faults.reset + faults.error5xx) {
        counts.injected5xx++;
        req.resume();
        res.writeHead(503, { 'content-type': 'application/xml' });
        res.end(
          '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>injected by the chaos ' +
            'proxy</Message></Error>',
        );
        return;
      }
      counts.forwarded++;
      const upstream = http.request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    }, delay);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    stats: () => ({ ...counts }),
    setFaults: (f) => (faults = { ...faults, ...f }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
