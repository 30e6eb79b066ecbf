import { ContractViolation } from './validate';
import { RAW_DELIVERY_FORMAT, RAW_HEADERS, decodeRawDelivery, encodeRawDelivery } from './raw-delivery';

const meta = {
  id: '3b241101-e2bb-4255-8caf-4136c566a962',
  receivedAt: '2026-11-23T10:00:00.000Z',
  app: 'default',
  sourceIp: '203.0.113.9',
  event: 'recording.completed',
  headers: {
    timestamp: '1795428000',
    trackingId: 'v=2.0;clid=us06;rid=WEB_1',
    requestId: 'req-1',
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    tracestate: 'zoom=1',
  },
};

describe('RawDelivery format 2 (body as the value, metadata in headers)', () => {
  it('keeps the body byte for byte, without copying a Buffer', () => {
    // Non-ASCII text and odd spacing: Zoom signed these exact bytes.
    const body = Buffer.from('{"event":"recording.completed" ,"payload":{"object":{"topic":"Réunion 🎥"}}}', 'utf8');
    const record = encodeRawDelivery({ ...meta, body });
    expect(record.value).toBe(body);
    const decoded = decodeRawDelivery(record.value, record.headers);
    expect(Buffer.from(decoded.body, 'utf8').equals(body)).toBe(true);
  });

  it('round-trips every field through the zp-delivery header', () => {
    const record = encodeRawDelivery({ ...meta, body: '{"event":"recording.completed"}' });
    expect(Object.keys(record.headers).sort()).toEqual([RAW_HEADERS.delivery, 'zp-delivery-id', 'zp-event']);
    expect(record.headers['zp-delivery-id']).toBe(meta.id);
    expect(record.headers['zp-event']).toBe(meta.event);
    expect(JSON.parse(record.headers[RAW_HEADERS.delivery])).toMatchObject({
      v: RAW_DELIVERY_FORMAT,
      trackingId: meta.headers.trackingId,
      timestamp: '1795428000',
    });
    expect(decodeRawDelivery(record.value, record.headers)).toEqual({
      v: 2,
      ...meta,
      body: '{"event":"recording.completed"}',
    });
  });

  it('leaves optional Zoom headers out when the request had none', () => {
    const record = encodeRawDelivery({ ...meta, headers: { timestamp: '1795428000' }, body: '{}' });
    expect(Object.keys(JSON.parse(record.headers[RAW_HEADERS.delivery])).sort()).toEqual([
      'app',
      'event',
      'id',
      'receivedAt',
      'sourceIp',
      'timestamp',
      'v',
    ]);
    const decoded = decodeRawDelivery(record.value, record.headers);
    expect(decoded.headers).toEqual({
      timestamp: '1795428000',
      trackingId: undefined,
      requestId: undefined,
      traceparent: undefined,
      tracestate: undefined,
    });
  });

  it('refuses a format-2 record whose metadata lacks a field, naming it', () => {
    const record = encodeRawDelivery({ ...meta, body: '{}' });
    const { receivedAt: _dropped, ...rest } = JSON.parse(record.headers[RAW_HEADERS.delivery]) as Record<
      string,
      unknown
    >;
    const headers = { ...record.headers, [RAW_HEADERS.delivery]: JSON.stringify(rest) };
    expect(() => decodeRawDelivery(record.value, headers)).toThrow(ContractViolation);
    expect(() => decodeRawDelivery(record.value, headers)).toThrow(/receivedAt must be a string/);
  });

  it('refuses metadata that is not JSON or of an unknown version rather than guessing', () => {
    const record = encodeRawDelivery({ ...meta, body: '{}' });
    expect(() => decodeRawDelivery(record.value, { ...record.headers, [RAW_HEADERS.delivery]: '{nope' })).toThrow(
      /zp-delivery is not JSON/,
    );
    const v3 = JSON.stringify({ ...JSON.parse(record.headers[RAW_HEADERS.delivery]), v: 3 });
    expect(() => decodeRawDelivery(record.value, { ...record.headers, [RAW_HEADERS.delivery]: v3 })).toThrow(
      /zp-delivery.v must be 2/,
    );
  });
});

describe('RawDelivery format 1 (one JSON document, written before format 2)', () => {
  const v1 = { v: 1, ...meta, body: '{"event":"recording.completed"}' };

  it('is still read, so records written before an upgrade are not lost', () => {
    expect(decodeRawDelivery(Buffer.from(JSON.stringify(v1)), { 'zp-delivery-id': meta.id })).toEqual(v1);
    expect(decodeRawDelivery(JSON.stringify(v1))).toEqual(v1);
  });

  it('refuses a document that is not format 1', () => {
    expect(() => decodeRawDelivery(JSON.stringify({ ...v1, v: 7 }))).toThrow(/v must be 1/);
    expect(() => decodeRawDelivery('{"event":"recording.completed"}')).toThrow(ContractViolation);
    expect(() => decodeRawDelivery('not json')).toThrow(/is not JSON/);
  });
});
