// Baseline (c): the common "answer 200, then process" handler. Express is not installed here, so this emulates an
// Express-style handler with plain node:http: buffer the body, answer 200 at once, then JSON.parse and verify.
import * as http from 'node:http';
import { verifySignature } from '@zoom-pipeline/zoom-webhook';

const secrets = (process.env.ZOOM_WEBHOOK_SECRET_TOKEN ?? '').split(',');
let processed = 0;
let rejected = 0;
const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"status":"ok"}');
    // "Processing" after the ack: nothing durable, lost on a crash.
    const rawBody = Buffer.concat(chunks);
    try {
      JSON.parse(rawBody.toString('utf8'));
      const v = verifySignature({
        signature: req.headers['x-zm-signature'] as string | undefined,
        timestamp: req.headers['x-zm-request-timestamp'] as string | undefined,
        rawBody,
        secrets,
        nowMs: Date.now(),
        toleranceMs: 2 * 3_600_000,
      });
      if (v.ok) processed++;
      else rejected++;
    } catch {
      rejected++;
    }
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(`listening ${typeof addr === 'object' && addr ? addr.port : 0}\n`);
});
process.on('SIGTERM', () => {
  process.stderr.write(`http-ack processed=${processed} rejected=${rejected}\n`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
