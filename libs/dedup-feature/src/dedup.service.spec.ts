import { loadConfig } from '@zoom-pipeline/config';
import { type RawDelivery, TOPICS, decodeCanonicalEvent, encodeRawDelivery } from '@zoom-pipeline/contracts';
import { MemoryDedupStore } from '@zoom-pipeline/dedup-store';
import type { ConsumedMessage, HandlerBatch } from '@zoom-pipeline/event-bus';
import { handlerBatch } from '@zoom-pipeline/event-bus/testing';
import { HealthService } from '@zoom-pipeline/service-kit';
import { createLogger } from '@zoom-pipeline/telemetry';
import { Registry } from 'prom-client';
import { Writable } from 'node:stream';
import { DEAD_LETTER_HEADERS, DedupService, RAW_DEAD_LETTER_TOPIC } from './dedup.service';

const HOUR = 3_600_000;
let now = Date.parse('2026-11-23T10:00:00Z');
let offset = 0;

function service(store: MemoryDedupStore, env: Record<string, string> = {}): DedupService {
  const config = loadConfig({ ZOOM_WEBHOOK_SECRET_TOKEN: 's', DEDUP_WINDOW: '24h', ...env });
  const silent = createLogger({ name: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
  return new DedupService(config, store, silent, new Registry(), new HealthService());
}

function delivery(body: Record<string, unknown>): ConsumedMessage {
  const d: RawDelivery = {
    v: 1,
    id: `d-${offset}`,
    receivedAt: new Date(now).toISOString(),
    app: 'default',
    sourceIp: '203.0.113.9',
    event: String(body.event),
    headers: { timestamp: String(Math.floor(now / 1000)) },
    body: JSON.stringify(body),
  };
  const o = offset++;
  const record = encodeRawDelivery(d);
  return { topic: TOPICS.raw, partition: 0, offset: String(o), key: 'k', value: record.value, headers: record.headers, timestamp: now };
}

function batch(messages: ConsumedMessage[]): HandlerBatch {
  return handlerBatch({ topic: TOPICS.raw, partition: 0, messages, heartbeat: async () => undefined, isActive: () => true });
}

const started = (uuid: string, extra: Record<string, unknown> = {}) => ({ event: 'meeting.started', payload: { account_id: 'a', object: { uuid, id: '1' } }, event_ts: now, ...extra });

function topics(outputs: Array<{ topic: string }>): string[] {
  return outputs.map((o) => o.topic);
}

describe('DedupService (memory store, fake clock)', () => {
  it('treats a copy inside the window as a duplicate and a copy after it as a new occurrence', async () => {
    const store = new MemoryDedupStore({ now: () => now });
    const dedup = service(store);
    expect(topics((await dedup.handleBatch(batch([delivery(started('m1'))]))).outputs)).toEqual([TOPICS.events]);
    now += 23 * HOUR; // still inside the 24 h window
    expect(topics((await dedup.handleBatch(batch([delivery(started('m1', { event_ts: now }))]))).outputs)).toEqual([TOPICS.duplicates]);
    now += 2 * HOUR; // 25 h after the claim: the window has passed
    expect(topics((await dedup.handleBatch(batch([delivery(started('m1'))]))).outputs)).toEqual([TOPICS.events]);
  });

  it('emits again for a redelivered record that finds its own claim (crash between claim and commit)', async () => {
    const store = new MemoryDedupStore({ now: () => now });
    const dedup = service(store);
    const msg = delivery(started('m2'));
    const first = await dedup.handleBatch(batch([msg]));
    // The bus never committed `first` (crash): the same record comes again.
    const again = await dedup.handleBatch(batch([msg]));
    expect(topics(again.outputs)).toEqual([TOPICS.events]);
    expect(decodeCanonicalEvent(again.outputs[0].value).id).toBe(decodeCanonicalEvent(first.outputs[0].value).id);
    // A different delivery of the same occurrence is still a duplicate.
    expect(topics((await dedup.handleBatch(batch([delivery(started('m2'))]))).outputs)).toEqual([TOPICS.duplicates]);
  });

  it('counts copies in one batch and keeps the freshest download token', async () => {
    const store = new MemoryDedupStore({ now: () => now });
    const dedup = service(store);
    const rec = (token: string) => ({
      event: 'recording.completed',
      payload: { account_id: 'a', object: { uuid: 'm3', id: 5, topic: 't', host_id: 'h', start_time: '2026-11-23T09:00:00Z', recording_files: [{ id: 'f1', file_type: 'MP4', file_extension: 'MP4', file_size: 10, download_url: 'https://us06web.zoom.us/rec/webhook_download/a/b', recording_start: '2026-11-23T09:00:00Z', recording_end: '2026-11-23T10:00:00Z' }] } },
      event_ts: now,
      download_token: token,
    });
    const a = delivery(rec('tok-old'));
    now += 1000;
    const b = delivery(rec('tok-new'));
    const out = (await dedup.handleBatch(batch([a, b]))).outputs;
    expect(topics(out)).toEqual([TOPICS.events, TOPICS.files, TOPICS.duplicates]);
    const ev = decodeCanonicalEvent(out[0].value);
    expect(ev.deliverycount).toBe(2);
    expect(ev.data.download_token).toBe('tok-new');
    expect(await store.getToken(ev.id)).toMatchObject({ token: 'tok-new' });
  });

  it('parks an undecodable raw record on the dead-letter topic instead of dropping or retrying it forever', async () => {
    const dedup = service(new MemoryDedupStore({ now: () => now }));
    const bad: ConsumedMessage = { topic: TOPICS.raw, partition: 0, offset: '99', key: null, value: Buffer.from('{not json'), headers: {}, timestamp: now };
    expect(topics((await dedup.handleBatch(batch([bad]))).outputs)).toEqual(['zoom.webhooks.dead']);
  });

  /** A format-2 record whose value is exactly these bytes, as a misbehaving or older ingress could have written it. */
  function rawRecord(value: Buffer, event = 'recording.completed'): ConsumedMessage {
    const record = encodeRawDelivery({ id: `poison-${offset}`, receivedAt: new Date(now).toISOString(), app: 'default', sourceIp: '203.0.113.9', event, headers: { timestamp: String(Math.floor(now / 1000)) }, body: value });
    return { topic: TOPICS.raw, partition: 0, offset: String(offset++), key: 'k', value: record.value, headers: record.headers, timestamp: now };
  }
  const recording = (uuid: string, extra = '') =>
    `{"event":"recording.completed","payload":{"account_id":"a","object":{"uuid":"${uuid}","id":5,"recording_files":[{"id":"f-${uuid}"}]${extra}}}}`;

  it.each([
    ['a UTF-8 BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(recording('bom'))]), 'body_bom'],
    ['5,000 levels of nesting outside the canonical key', Buffer.from(recording('deep', `,"extra":${'['.repeat(5_000)}${']'.repeat(5_000)}`)), 'body_too_deep'],
    ['bytes that are not UTF-8', Buffer.concat([Buffer.from(recording('utf').slice(0, -3)), Buffer.from([0xc3, 0x28]), Buffer.from('}}}')]), 'body_not_json'],
  ])('dead-letters a record with %s with its reason and processes the record behind it in the same batch', async (_name, value, code) => {
    const dedup = service(new MemoryDedupStore({ now: () => now }));
    const poison = rawRecord(value);
    const normal = delivery(started('behind-poison'));
    const { outputs } = await dedup.handleBatch(batch([poison, normal]));
    expect(topics(outputs)).toEqual([RAW_DEAD_LETTER_TOPIC, TOPICS.events]);
    expect(outputs[0].value.equals(poison.value)).toBe(true);
    expect(outputs[0].headers?.[DEAD_LETTER_HEADERS.code]).toBe(code);
    expect(outputs[0].headers?.[DEAD_LETTER_HEADERS.error]).toContain(code);
    expect(decodeCanonicalEvent(outputs[1].value).subject).toBe('behind-poison');
  });

  it('dead-letters a record whose outputs cannot be built (e.g. a stack overflow serialising it) and emits the others', async () => {
    const dedup = service(new MemoryDedupStore({ now: () => now }));
    const poison = delivery(started('overflows'));
    const normal = delivery(started('fine'));
    const stringify = JSON.stringify;
    // Stands in for what a body the rule does not foresee could do while its CloudEvent is serialised.
    const spy = jest.spyOn(JSON, 'stringify').mockImplementation(function (this: unknown, value: unknown, ...rest: unknown[]) {
      if ((value as { subject?: string } | null)?.subject === 'overflows') throw new RangeError('Maximum call stack size exceeded');
      return (stringify as (...a: unknown[]) => string).call(JSON, value, ...rest);
    } as typeof JSON.stringify);
    let outputs;
    try {
      ({ outputs } = await dedup.handleBatch(batch([poison, normal])));
    } finally {
      spy.mockRestore();
    }
    expect(topics(outputs)).toEqual([RAW_DEAD_LETTER_TOPIC, TOPICS.events]);
    expect(outputs[0].headers?.[DEAD_LETTER_HEADERS.code]).toBe('processing_failed');
    expect(outputs[0].headers?.[DEAD_LETTER_HEADERS.error]).toContain('Maximum call stack size exceeded');
    expect(decodeCanonicalEvent(outputs[1].value).subject).toBe('fine');
  });

  it('counts canonical events of unknown event names as event="other"', async () => {
    const registry = new Registry();
    const config = loadConfig({ ZOOM_WEBHOOK_SECRET_TOKEN: 's', DEDUP_WINDOW: '24h' });
    const silent = createLogger({ name: 'test', level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
    const dedup = new DedupService(config, new MemoryDedupStore({ now: () => now }), silent, registry, new HealthService());
    await dedup.handleBatch(batch([delivery({ event: 'x'.repeat(60), payload: { a: 1 } })]));
    const metric = await registry.getSingleMetricAsString('zoom_dedup_canonical_events_total');
    expect(metric).toContain('event="other"');
    expect(metric).not.toContain('xxxx');
  });
});
