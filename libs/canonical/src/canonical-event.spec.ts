import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeCanonicalEvent } from '@zoom-pipeline/contracts';
import { type ZoomEnvelope, parseEnvelope } from '@zoom-pipeline/zoom-webhook';
import { DEFAULT_REDACT_FIELDS, REDACTED, UNKNOWN_SUBJECT, buildCanonicalEvent } from './canonical-event';
import { canonicalId, canonicalKey } from './canonical-key';

/** docs/ZOOM-FACTS.md §9 fixtures: $ZOOM_FIXTURES_DIR, else the repository copy. */
function zoomFixtureDir(): string {
  const candidates = [process.env.ZOOM_FIXTURES_DIR, path.resolve(__dirname, '../../../test/zoom-sim/fixtures')];
  const dir = candidates.find((d): d is string => d !== undefined && fs.existsSync(d));
  if (dir === undefined) throw new Error('Zoom fixtures not found; set ZOOM_FIXTURES_DIR');
  return dir;
}

function fixture(file: string): ZoomEnvelope {
  const dir = zoomFixtureDir();
  const r = parseEnvelope(
    Buffer.from(JSON.stringify(JSON.parse(fs.readFileSync(path.join(dir, `${file}.json`), 'utf8')))),
  );
  if (!r.ok) throw new Error(`${file}: ${r.reason}`);
  return r.envelope;
}

function build(envelope: ZoomEnvelope, redactFields?: readonly string[]) {
  return buildCanonicalEvent({
    envelope,
    canonicalId: canonicalId(canonicalKey(envelope)),
    app: 'sales-eu',
    deliveryId: '5b0a3c8e-2f6d-4b7a-9e1c-7d3f2a1b0c9e',
    deliveryCount: 2,
    receivedAt: '2025-02-26T19:06:49.640Z',
    redactFields,
  });
}

describe('buildCanonicalEvent', () => {
  it('wraps a recording.completed as a CloudEvents 1.0 event per SPEC §5', () => {
    const envelope = fixture('recording.completed');
    const event = build(envelope);
    expect(event).toEqual({
      specversion: '1.0',
      id: canonicalId(canonicalKey(envelope)),
      source: 'zoom-pipeline/sales-eu',
      type: 'us.zoom.recording.completed',
      subject: '/Gx2k7+Rq0S1o9Lb//nYQw==',
      time: '2025-02-26T19:06:49.640Z',
      datacontenttype: 'application/json',
      data: envelope,
      deliverycount: 2,
      zoomdeliveryid: '5b0a3c8e-2f6d-4b7a-9e1c-7d3f2a1b0c9e',
      zoomapp: 'sales-eu',
    });
  });

  it('passes the contracts validator consumers run at their edge', () => {
    const event = build(fixture('meeting.participant_left'));
    expect(decodeCanonicalEvent(JSON.stringify(event))).toEqual(event);
  });

  it("keeps the canonical delivery's own download_token with its own URLs (never another copy's)", () => {
    const envelope = fixture('recording.completed');
    expect(build(envelope).data.download_token).toBe(envelope.download_token);
  });

  it('redacts the configured members at any depth, marks them, and leaves the delivery untouched', () => {
    const envelope = fixture('recording.completed');
    const before = JSON.stringify(envelope);
    const event = build(envelope, DEFAULT_REDACT_FIELDS);
    const data = event.data as { download_token: string; payload: { object: Record<string, unknown> } };
    expect(data.download_token).toBe(REDACTED);
    expect(data.payload.object.password).toBe(REDACTED);
    expect(data.payload.object.recording_play_passcode).toBe(REDACTED);
    expect(event.zoomredacted).toBe('download_token,password,recording_play_passcode');
    const text = JSON.stringify(event);
    expect(text).not.toContain(String(envelope.download_token));
    expect(text).not.toContain(String((envelope.payload.object as Record<string, unknown>).password));
    expect(text).not.toContain(String((envelope.payload.object as Record<string, unknown>).recording_play_passcode));
    // everything else is kept: URLs, topic, file list
    expect(data.payload.object.recording_files).toEqual(
      (envelope.payload.object as Record<string, unknown>).recording_files,
    );
    expect(JSON.stringify(envelope)).toBe(before);
    expect(decodeCanonicalEvent(text)).toEqual(JSON.parse(text));
  });

  it('marks nothing when no configured member is present, and redacts nothing when the list is empty', () => {
    expect(build(fixture('meeting.started'), DEFAULT_REDACT_FIELDS)).not.toHaveProperty('zoomredacted');
    const envelope = fixture('recording.completed');
    expect(build(envelope, []).data.download_token).toBe(envelope.download_token);
  });

  it('keeps a __proto__ member as data while redacting', () => {
    const envelope = JSON.parse('{"event":"x.y","payload":{"__proto__":{"password":"p"}}}') as ZoomEnvelope;
    const data = build(envelope, ['password']).data as { payload: Record<string, unknown> };
    expect(Object.getOwnPropertyNames(data.payload)).toEqual(['__proto__']);
    expect(JSON.stringify(data)).toBe('{"event":"x.y","payload":{"__proto__":{"password":"[redacted]"}}}');
  });

  it.each<[string, ZoomEnvelope, string]>([
    [
      'the webinar RTMS webinar_uuid',
      { event: 'webinar.rtms_started', payload: { account_id: 'a', webinar_uuid: 'W==', rtms_stream_id: 's' } },
      'W==',
    ],
    [
      'the Video SDK session_id',
      { event: 'session.rtms_started', payload: { account_id: 'a', session_id: 'S==', rtms_stream_id: 's' } },
      'S==',
    ],
  ])('uses %s as subject', (_name, envelope, subject) => {
    expect(build(envelope).subject).toBe(subject);
  });

  it.each<[string, ZoomEnvelope, string]>([
    ['the RTMS meeting_uuid', fixture('meeting.rtms_started'), '/Gx2k7+Rq0S1o9Lb//nYQw=='],
    ['the account id when there is no meeting', fixture('app_deauthorized'), 'wA8sT3KqRj2cXy7mN0pLzQ'],
    [
      '"unknown" when there is neither',
      { event: 'endpoint.url_validation', payload: { plainToken: 'x' } },
      UNKNOWN_SUBJECT,
    ],
  ])('uses %s as subject', (_name, envelope, subject) => {
    expect(build(envelope).subject).toBe(subject);
  });
});
