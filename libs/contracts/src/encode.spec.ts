import { type CanonicalEvent, decodeCanonicalEvent, encodeCanonicalEvent } from './canonical-event';
import { type UploadResult, decodeUploadResult, encodeUploadResult } from './recording-file';
import { type RtmsTextMessage, encodeRtmsTextMessage } from './rtms';

// What a producer encodes, every consumer must decode to the same value (the topics are the contract).
describe('topic encoders', () => {
  it('round-trips a canonical event, including non-ASCII data, as UTF-8 JSON', () => {
    const event: CanonicalEvent = {
      specversion: '1.0',
      id: 'c1',
      source: '/zoom/acc',
      type: 'us.zoom.meeting.started',
      subject: 'u/==',
      time: '2026-12-03T10:00:00Z',
      datacontenttype: 'application/json',
      data: { topic: 'Встреча 会議' },
      deliverycount: 2,
      zoomdeliveryid: 'd1',
      zoomapp: 'default',
    };
    const bytes = encodeCanonicalEvent(event);
    expect(bytes.subarray(0, 1).toString()).toBe('{');
    expect(decodeCanonicalEvent(bytes)).toEqual(event);
  });

  it('round-trips an upload result', () => {
    const result: UploadResult = {
      v: 1,
      fileId: 'f',
      canonicalId: 'c',
      meetingUuid: 'm',
      bucket: 'b',
      key: 'k',
      size: 3,
      sha256: 'ab',
      etag: 'e',
      durationMs: 1,
      alreadyStored: false,
      uploadedAt: '2026-12-03T10:00:00Z',
    };
    expect(decodeUploadResult(encodeUploadResult(result))).toEqual(result);
  });

  it('writes an RTMS text message as UTF-8 JSON that parses back to the same value', () => {
    const message: RtmsTextMessage = {
      v: 1,
      media: 'transcript',
      product: 'meeting',
      instanceId: 'i==',
      streamId: 's',
      userName: 'Zoë 王',
      text: 'Guten Tag — 你好',
      timestamp: 1_764_756_000_000,
      fence: 3,
    };
    expect(JSON.parse(encodeRtmsTextMessage(message).toString('utf8'))).toEqual(message);
  });
});
