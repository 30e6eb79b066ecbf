import { Writable } from 'node:stream';
import { loadConfig } from '@zoom-pipeline/config';
import type { EventBus, OutgoingMessage } from '@zoom-pipeline/event-bus';
import { HealthService } from '@zoom-pipeline/service-kit';
import { createLogger } from '@zoom-pipeline/telemetry';
import { MAX_JSON_DEPTH, signDelivery } from '@zoom-pipeline/zoom-webhook';
import { Registry } from 'prom-client';
import { IngressService, secretsOf } from './ingress.service';

const SECRET = 'unit-secret';

function setup() {
  const config = loadConfig({ ZOOM_WEBHOOK_SECRET_TOKEN: SECRET, ZOOM_WEBHOOK_SECRET_TOKEN_SALES_EU: 'sales-secret' });
  const published: OutgoingMessage[] = [];
  const bus = {
    publish: async (m: OutgoingMessage[]) => void published.push(...m),
    isReady: async () => true,
  } as unknown as EventBus;
  const silent = createLogger({
    name: 'test',
    level: 'silent',
    destination: new Writable({ write: (_c, _e, cb) => cb() }),
  });
  const registry = new Registry();
  return {
    ingress: new IngressService(config, bus, silent, registry, new HealthService()),
    published,
    registry,
    config,
  };
}

function request(app: string, body: Buffer | string, secret = SECRET) {
  const raw = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  const ts = String(Math.floor(Date.now() / 1000));
  return {
    app,
    rawBody: raw,
    headers: {
      'content-type': 'application/json',
      'x-zm-request-timestamp': ts,
      'x-zm-signature': signDelivery(secret, ts, raw),
    },
    sourceIp: '203.0.113.1',
    receivedAtMs: Date.now(),
  };
}

const started = '{"event":"meeting.started","payload":{"account_id":"a","object":{"uuid":"u1==","id":"1"}}}';

describe('IngressService', () => {
  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'DEFAULT', 'Sales-EU'])(
    'answers 404 unknown_app for the path segment %s',
    async (app) => {
      const { ingress, published } = setup();
      const result = await ingress.receive(request(app, started));
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect([result.error.status, result.error.code]).toEqual([404, 'unknown_app']);
      expect(published).toHaveLength(0);
    },
  );

  it('finds configured apps by their exact name only', async () => {
    const { ingress, config } = setup();
    expect(secretsOf(config.webhook.secretsByApp, 'sales-eu')).toEqual(['sales-secret']);
    expect(secretsOf(config.webhook.secretsByApp, 'constructor')).toBeUndefined();
    expect(secretsOf({}, '__proto__')).toBeUndefined();
    expect((await ingress.receive(request('sales-eu', started, 'sales-secret'))).ok).toBe(true);
  });

  it.each([
    ['a UTF-8 BOM before the JSON', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(started)]), 'body_bom'],
    [
      'nesting deeper than the limit',
      `{"event":"recording.completed","payload":{"x":${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}}}`,
      'body_too_deep',
    ],
    [
      'thousands of levels of nesting',
      `{"event":"recording.completed","payload":{"x":${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}}}`,
      'body_too_deep',
    ],
  ])(
    'refuses a signed body with %s with 400 and appends nothing (dedup could not process it)',
    async (_name, body, code) => {
      const { ingress, published } = setup();
      const result = await ingress.receive(request('default', body));
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect([result.error.status, result.error.code]).toEqual([400, code]);
      expect(result.error.message.length).toBeGreaterThan(10);
      expect(published).toHaveLength(0);
    },
  );

  it('owns the one ack deadline: a publish that never settles gets one 503 at the deadline, no timer', async () => {
    jest.useFakeTimers();
    try {
      const { ingress, config, registry } = setup();
      const signals: AbortSignal[] = [];
      (ingress as unknown as { bus: EventBus }).bus.publish = (_m, options) => {
        signals.push(options!.signal!);
        return new Promise<void>(() => undefined);
      };
      let settled = false;
      const receiving = ingress.receive(request('default', started)).finally(() => {
        settled = true;
      });

      await jest.advanceTimersByTimeAsync(config.webhook.ackDeadlineMs - 1);
      expect(settled).toBe(false);
      expect(jest.getTimerCount()).toBe(1);
      expect(signals).toHaveLength(1);
      expect(signals[0].aborted).toBe(false);

      await jest.advanceTimersByTimeAsync(1);
      const result = await receiving;
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect([result.error.status, result.error.code]).toEqual([503, 'log_unavailable']);
      // The bus was told through the signal, and nothing else is still counting.
      expect(signals[0].aborted).toBe(true);
      expect(jest.getTimerCount()).toBe(0);
      expect(await registry.getSingleMetricAsString('zoom_webhook_bus_errors_total')).toContain(
        'reason="unavailable"} 1',
      );
    } finally {
      jest.useRealTimers();
    }
  });

  it('counts an unknown but well-formed event name as event="other"', async () => {
    const { ingress, registry } = setup();
    expect((await ingress.receive(request('default', '{"event":"zz.' + 'a'.repeat(40) + '","payload":{}}'))).ok).toBe(
      true,
    );
    const metric = await registry.getSingleMetricAsString('zoom_webhook_deliveries_total');
    expect(metric).toContain('event="other"');
    expect(metric).not.toContain('zz.');
  });
});
