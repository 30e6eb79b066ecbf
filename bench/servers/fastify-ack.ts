// Baseline (b): a bare Fastify route that verifies Zoom's HMAC over the raw body and answers 200.
// Nothing is stored: the non-durable "ack first" ceiling the ingress is compared with.
import Fastify from 'fastify';
import { verifySignature } from '@zoom-pipeline/zoom-webhook';

const secrets = (process.env.ZOOM_WEBHOOK_SECRET_TOKEN ?? '').split(',');
const app = Fastify({ logger: false, bodyLimit: 1_048_576 });
app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
app.post('/webhooks/zoom', async (req, reply) => {
  const rawBody = req.body as Buffer;
  const verdict = verifySignature({
    signature: req.headers['x-zm-signature'] as string | undefined,
    timestamp: req.headers['x-zm-request-timestamp'] as string | undefined,
    rawBody,
    secrets,
    nowMs: Date.now(),
    toleranceMs: 2 * 3_600_000,
  });
  if (!verdict.ok) return reply.code(401).send({ error: verdict.reason });
  const envelope = JSON.parse(rawBody.toString('utf8')) as { event?: string };
  return { status: 'accepted', event: envelope.event };
});
void app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' }).then(() => {
  const addr = app.server.address();
  process.stdout.write(`listening ${typeof addr === 'object' && addr ? addr.port : 0}\n`);
});
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
