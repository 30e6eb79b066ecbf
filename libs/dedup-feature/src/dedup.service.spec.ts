import type { AccountLinkLookup } from '@zoom-pipeline/accounts-store';
import { loadConfig } from '@zoom-pipeline/config';
import {
  type RawDelivery,
  TOPICS,
  decodeCanonicalEvent,
  decodeFileWorkItem,
  decodeUploadFailure,
  encodeRawDelivery,
} from '@zoom-pipeline/contracts';
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

function service(store: MemoryDedupStore, env: Record<string, string> = {}, links?: AccountLinkLookup): DedupService {
  const config = loadConfig({ ZOOM_WEBHOOK_SECRET_TOKEN: 's', DEDUP_WINDOW: '24h', ...env });
  const silent = createLogger({
    name: 'test',
    level: 'silent',
    destination: new Writable({ write: (_c, _e, cb) => cb() }),
  });
  return new DedupService(config, store, silent, new Registry(), new HealthService(), links);
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
  return {
    topic: TOPICS.raw,
    partition: 0,
    offset: String(o),
    key: 'k',
    value: record.value,
    headers: record.headers,
    timestamp: now,
  };
}

function batch(messages: ConsumedMessage[]): HandlerBatch {
  return handlerBatch({
    topic: TOPICS.raw,
    partition: 0,
    messages,
    heartbeat: async () => undefined,
    isActive: () => true,
  });
}

const started = (uuid: string, extra: Record<string, unknown> = {}) => ({
  event: 'meeting.started',
  payload: { account_id: 'a', object: { uuid, id: '1' } },
  event_ts: now,
  ...extra,
});

function topics(outputs: Array<{ topic: string }>): string[] {
  return outputs.map((o) => o.topic);
}

describe('DedupService (memory store, fake clock)', () => {
  it('treats a copy inside the window as a duplicate and a copy after it as a new occurrence', async () => {
    const store = new MemoryDedupStore({ now: () => now });
    const dedup = service(store);
    expect(topics((await dedup.handleBatch(batch([delivery(started('m1'))]))).outputs)).toEqual([TOPICS.events]);
    now += 23 * HOUR; // still inside the 24 h window
    expect(topics((await dedup.handleBatch(batch([delivery(started('m1', { event_ts: now }))]))).outputs)).toEqual([
      TOPICS.duplicates,
    ]);
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

  const rec = (token: string | undefined, url: string, files: Array<Record<string, unknown>> = []) => ({
    event: 'recording.completed',
    payload: {
      account_id: 'a',
      object: {
        uuid: 'm3',
        id: 5,
        topic: 't',
        host_id: 'h',
        start_time: '2026-11-23T09:00:00Z',
        password: 'secret-password',
        recording_files: [
          {
            id: 'f1',
            file_type: 'MP4',
            file_extension: 'MP4',
            file_size: 10,
            download_url: url,
            recording_start: '2026-11-23T09:00:00Z',
            recording_end: '2026-11-23T10:00:00Z',
            status: 'completed',
          },
          ...files,
        ],
      },
    },
    event_ts: now,
    ...(token === undefined ? {} : { download_token: token }),
  });
  const URL_A = 'https://us06web.zoom.us/rec/webhook_download/a/1';
  const URL_B = 'https://us06web.zoom.us/rec/webhook_download/b/2';

  it('counts copies in one batch and keeps each URL with the token of its own delivery', async () => {
    const store = new MemoryDedupStore({ now: () => now });
    const dedup = service(store, { EVENTS_REDACT_FIELDS: 'none' });
    const a = delivery(rec('tok-a', URL_A));
    now += 1000;
    const b = delivery(rec('tok-b', URL_B));
    const out = (await dedup.handleBatch(batch([a, b]))).outputs;
    expect(topics(out)).toEqual([TOPICS.events, TOPICS.files, TOPICS.duplicates]);
    const ev = decodeCanonicalEvent(out[0].value);
    expect(ev.deliverycount).toBe(2);
    const data = ev.data as {
      download_token: string;
      payload: { object: { recording_files: Array<{ download_url: string }> } };
    };
    expect([data.download_token, data.payload.object.recording_files[0]?.download_url]).toEqual(['tok-a', URL_A]);
    const item = decodeFileWorkItem(out[1].value, { alternates: true });
    expect([item.downloadUrl, item.downloadToken]).toEqual([URL_A, 'tok-a']);
    expect(item.alternates).toEqual([
      { downloadUrl: URL_B, downloadToken: 'tok-b', receivedAt: new Date(now).toISOString() },
    ]);
    // the token kept next to the claim is the one that opens the work item's URL
    expect(await store.getToken(ev.id)).toMatchObject({ token: 'tok-a' });
    // a retry in a later batch is a duplicate; its (fresher) token is offered
    now += 5 * 60_000;
    expect(topics((await dedup.handleBatch(batch([delivery(rec('tok-retry', URL_A))]))).outputs)).toEqual([
      TOPICS.duplicates,
    ]);
    expect(await store.getToken(ev.id)).toMatchObject({ token: 'tok-retry' });
  });

  it(
    'redacts download_token, password and recording_play_passcode on ' + 'zoom.events by default, not on the work item',
    async () => {
      const dedup = service(new MemoryDedupStore({ now: () => now }));
      const out = (await dedup.handleBatch(batch([delivery(rec('tok-r', URL_A))]))).outputs;
      const text = out[0].value.toString('utf8');
      expect(text).not.toContain('tok-r');
      expect(text).not.toContain('secret-password');
      expect(decodeCanonicalEvent(text).zoomredacted).toBe('download_token,password');
      expect(decodeFileWorkItem(out[1].value).downloadToken).toBe('tok-r');
    },
  );

  it(
    'queues files without id or size, fails a file without ' + 'download_url on zoom.recording.failed, and counts them',
    async () => {
      const registry = new Registry();
      const config = loadConfig({ ZOOM_WEBHOOK_SECRET_TOKEN: 's', DEDUP_WINDOW: '24h' });
      const silent = createLogger({
        name: 'test',
        level: 'silent',
        destination: new Writable({ write: (_c, _e, cb) => cb() }),
      });
      const dedup = new DedupService(
        config,
        new MemoryDedupStore({ now: () => now }),
        silent,
        registry,
        new HealthService(),
      );
      const files = [
        {
          file_type: 'CC',
          file_extension: 'VTT',
          download_url: `${URL_A}/cc`,
          recording_start: 's',
          recording_end: 'e',
        },
        { id: 'chat', file_type: 'CHAT', file_extension: 'TXT', download_url: `${URL_A}/chat`, status: 'completed' },
        {
          id: 'busy',
          file_type: 'MP4',
          file_extension: 'MP4',
          file_size: 5,
          download_url: `${URL_A}/busy`,
          status: 'processing',
        },
        { id: 'nourl', file_type: 'CSV', file_extension: 'CSV', file_size: 5, status: 'completed' },
      ];
      const out = (await dedup.handleBatch(batch([delivery(rec(undefined, URL_A, files))]))).outputs;
      expect(topics(out)).toEqual([
        TOPICS.events,
        TOPICS.files,
        TOPICS.files,
        TOPICS.files,
        TOPICS.files,
        TOPICS.failed,
      ]);
      const failure = decodeUploadFailure(out[5].value);
      expect([failure.fileId, failure.reason]).toEqual(['nourl', 'download_url_missing']);
      const metrics = await registry.getMetricsAsJSON();
      const values = (name: string) => metrics.find((m) => m.name === name)?.values.map((v) => [v.labels, v.value]);
      expect(values('zoom_dedup_recording_files_total')).toEqual(
        expect.arrayContaining([
          [{ outcome: 'queued', reason: '' }, 4],
          [{ outcome: 'failed', reason: 'download_url_missing' }, 1],
        ]),
      );
      expect(values('zoom_dedup_recording_files_flagged_total')).toEqual(
        expect.arrayContaining([
          [{ flag: 'size_unknown' }, 2],
          [{ flag: 'not_completed' }, 1],
          [{ flag: 'derived_id' }, 1],
          [{ flag: 'no_download_token' }, 4],
        ]),
      );
    },
  );

  it('keys webinar RTMS events by webinar_uuid and suppresses their copies', async () => {
    const dedup = service(new MemoryDedupStore({ now: () => now }));
    const rtms = {
      event: 'webinar.rtms_started',
      payload: { account_id: 'a', webinar_uuid: 'W==', rtms_stream_id: 'abc', server_urls: 'wss://x' },
      event_ts: now,
    };
    const out = (await dedup.handleBatch(batch([delivery(rtms), delivery({ ...rtms, event_ts: now + 1 })]))).outputs;
    expect(topics(out)).toEqual([TOPICS.events, TOPICS.duplicates]);
    expect(out[0].key).toBe('W==');
    expect(decodeCanonicalEvent(out[0].value).subject).toBe('W==');
  });

  it(
    'parks an undecodable raw record on the dead-letter topic ' + 'instead of dropping or retrying it forever',
    async () => {
      const dedup = service(new MemoryDedupStore({ now: () => now }));
      const bad: ConsumedMessage = {
        topic: TOPICS.raw,
        partition: 0,
        offset: '99',
        key: null,
        value: Buffer.from('{not json'),
        headers: {},
        timestamp: now,
      };
      expect(topics((await dedup.handleBatch(batch([bad]))).outputs)).toEqual(['zoom.webhooks.dead']);
    },
  );

  /** A format-2 record whose value is exactly these bytes, as a misbehaving or older ingress could have written it. */
  function rawRecord(value: Buffer, event = 'recording.completed'): ConsumedMessage {
    const record = encodeRawDelivery({
      id: `poison-${offset}`,
      receivedAt: new Date(now).toISOString(),
      app: 'default',
      sourceIp: '203.0.113.9',
      event,
      headers: { timestamp: String(Math.floor(now / 1000)) },
      body: value,
    });
    return {
      topic: TOPICS.raw,
      partition: 0,
      offset: String(offset++),
      key: 'k',
      value: record.value,
      headers: record.headers,
      timestamp: now,
    };
  }
  const recording = (uuid: string, extra = '') =>
    `{"event":"recording.completed","payload":{"account_id":"a","object":{"uuid":"${uuid}",` +
    `"id":5,"recording_files":[{"id":"f-${uuid}"}]${extra}}}}`;

  it.each([
    ['a UTF-8 BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(recording('bom'))]), 'body_bom'],
    [
      '5,000 levels of nesting outside the canonical key',
      Buffer.from(recording('deep', `,"extra":${'['.repeat(5_000)}${']'.repeat(5_000)}`)),
      'body_too_deep',
    ],
    [
      'bytes that are not UTF-8',
      Buffer.concat([Buffer.from(recording('utf').slice(0, -3)), Buffer.from([0xc3, 0x28]), Buffer.from('}}}')]),
      'body_not_json',
    ],
  ])(
    'dead-letters a record with %s with its reason and processes the record behind it in the same batch',
    async (_name, value, code) => {
      const dedup = service(new MemoryDedupStore({ now: () => now }));
      const poison = rawRecord(value);
      const normal = delivery(started('behind-poison'));
      const { outputs } = await dedup.handleBatch(batch([poison, normal]));
      expect(topics(outputs)).toEqual([RAW_DEAD_LETTER_TOPIC, TOPICS.events]);
      expect(outputs[0].value.equals(poison.value)).toBe(true);
      expect(outputs[0].headers?.[DEAD_LETTER_HEADERS.code]).toBe(code);
      expect(outputs[0].headers?.[DEAD_LETTER_HEADERS.error]).toContain(code);
      expect(decodeCanonicalEvent(outputs[1].value).subject).toBe('behind-poison');
    },
  );

  it(
    'dead-letters a record whose outputs cannot be built (e.g. a stack ' +
      'overflow serialising it) and emits the others',
    async () => {
      const dedup = service(new MemoryDedupStore({ now: () => now }));
      const poison = delivery(started('overflows'));
      const normal = delivery(started('fine'));
      const stringify = JSON.stringify;
      // Stands in for what a body the rule does not foresee could do while its CloudEvent is serialised.
      const spy = jest.spyOn(JSON, 'stringify').mockImplementation(function (
        this: unknown,
        value: unknown,
        ...rest: unknown[]
      ) {
        if ((value as { subject?: string } | null)?.subject === 'overflows')
          throw new RangeError('Maximum call stack size exceeded');
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
    },
  );

  it('dead-letters a record whose receivedAt is not a time (processing_failed) and emits the others', async () => {
    const dedup = service(new MemoryDedupStore({ now: () => now }));
    const body = started('fine');
    const encoded = encodeRawDelivery({
      id: 'd-bad-time',
      receivedAt: 'yesterday',
      app: 'default',
      sourceIp: '203.0.113.9',
      event: body.event,
      headers: { timestamp: String(Math.floor(now / 1000)) },
      body: JSON.stringify(body),
    });
    const bad = { ...delivery(body), value: encoded.value, headers: encoded.headers };
    const other = delivery(started('other'));
    const { outputs } = await dedup.handleBatch(batch([bad, other]));
    expect(topics(outputs)).toEqual([RAW_DEAD_LETTER_TOPIC, TOPICS.events]);
    expect(outputs[0].headers?.[DEAD_LETTER_HEADERS.code]).toBe('processing_failed');
    expect(decodeCanonicalEvent(outputs[1].value).subject).toBe('other');
  });

  it('counts canonical events of unknown event names as event="other"', async () => {
    const registry = new Registry();
    const config = loadConfig({ ZOOM_WEBHOOK_SECRET_TOKEN: 's', DEDUP_WINDOW: '24h' });
    const silent = createLogger({
      name: 'test',
      level: 'silent',
      destination: new Writable({ write: (_c, _e, cb) => cb() }),
    });
    const dedup = new DedupService(
      config,
      new MemoryDedupStore({ now: () => now }),
      silent,
      registry,
      new HealthService(),
    );
    await dedup.handleBatch(batch([delivery({ event: 'x'.repeat(60), payload: { a: 1 } })]));
    const metric = await registry.getSingleMetricAsString('zoom_dedup_canonical_events_total');
    expect(metric).toContain('event="other"');
    expect(metric).not.toContain('xxxx');
  });

  it(
    'stamps the linked app user (host, else an account-level link) on ' +
      'canonical events and work items, and nothing for others',
    async () => {
      const asked: Array<{ zoomUserId?: string; accountId?: string }> = [];
      const links: AccountLinkLookup = {
        appUserFor: async (q) => {
          asked.push(q);
          return q.zoomUserId === 'host-linked' ? 'app-7' : q.accountId === 'acct-linked' ? 'app-admin' : undefined;
        },
      };
      const dedup = service(new MemoryDedupStore({ now: () => now }), {}, links);
      const recording = (uuid: string, hostId: string, accountId: string) => ({
        event: 'recording.completed',
        payload: {
          account_id: accountId,
          object: {
            uuid,
            id: 5,
            host_id: hostId,
            recording_files: [
              {
                id: `f-${uuid}`,
                file_type: 'MP4',
                file_size: 10,
                download_url: 'https://zoom.us/rec/webhook_download/x/y',
              },
            ],
          },
        },
        download_token: 't',
      });
      const out = (
        await dedup.handleBatch(
          batch([
            delivery(recording('r1', 'host-linked', 'a')),
            delivery(recording('r2', 'host-other', 'acct-linked')),
            delivery(recording('r3', 'host-other', 'a')),
          ]),
        )
      ).outputs;
      const events = out.filter((o) => o.topic === TOPICS.events).map((o) => decodeCanonicalEvent(o.value));
      const items = out.filter((o) => o.topic === TOPICS.files).map((o) => decodeFileWorkItem(o.value));
      expect(events.map((e) => [e.subject, e.appuserid])).toEqual([
        ['r1', 'app-7'],
        ['r2', 'app-admin'],
        ['r3', undefined],
      ]);
      expect(items.map((i) => [i.meetingUuid, i.appUserId])).toEqual([
        ['r1', 'app-7'],
        ['r2', 'app-admin'],
        ['r3', undefined],
      ]);
      expect(asked).toContainEqual({ zoomUserId: 'host-linked', accountId: 'a' });
      // app_deauthorized names the user in payload.user_id.
      const deauth = {
        event: 'app_deauthorized',
        payload: {
          account_id: 'a',
          user_id: 'host-linked',
          client_id: 'c',
          signature: 's',
          deauthorization_time: '2026-11-23T10:00:00Z',
        },
      };
      const [event] = (await dedup.handleBatch(batch([delivery(deauth)]))).outputs.map((o) =>
        decodeCanonicalEvent(o.value),
      );
      expect(event.appuserid).toBe('app-7');
    },
  );

  it('retries the batch (emits nothing) when the accounts lookup fails', async () => {
    const dedup = service(
      new MemoryDedupStore({ now: () => now }),
      {},
      { appUserFor: async () => Promise.reject(new Error('redis down')) },
    );
    await expect(dedup.handleBatch(batch([delivery(started('m-acc'))]))).rejects.toMatchObject({
      code: 'dedup_store_unavailable',
    });
  });
});
