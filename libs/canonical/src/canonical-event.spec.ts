import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeCanonicalEvent } from '@zoom-pipeline/contracts';
import { type ZoomEnvelope, parseEnvelope } from '@zoom-pipeline/zoom-webhook';
import { UNKNOWN_SUBJECT, buildCanonicalEvent } from './canonical-event';
import { canonicalId, canonicalKey } from './canonical-key';

/** ZOOM.md §9 fixtures: $ZOOM_FIXTURES_DIR, else the repository copy, else the shared workspace copy. */
function zoomFixtureDir(): string {
  const candidates = [process.env.ZOOM_FIXTURES_DIR, path.resolve(__dirname, '../../../test/zoom-sim/fixtures'), path.resolve(__dirname, '../../../../shared/zoom-fixtures')];
  const dir = candidates.find((d): d is string => d !== undefined && fs.existsSync(d));
  if (dir === undefined) throw new Error('Zoom fixtures not found; set ZOOM_FIXTURES_DIR');
  return dir;
}

function fixture(file: string): ZoomEnvelope {
  const dir = zoomFixtureDir();
  const r = parseEnvelope(Buffer.from(JSON.stringify(JSON.parse(fs.readFileSync(path.join(dir, `${file}.json`), 'utf8')))));
  if (!r.ok) throw new Error(`${file}: ${r.reason}`);
  return r.envelope;
}

function build(envelope: ZoomEnvelope, freshestDownloadToken?: string) {
  return buildCanonicalEvent({
    envelope,
    canonicalId: canonicalId(canonicalKey(envelope)),
    app: 'sales-eu',
    deliveryId: '5b0a3c8e-2f6d-4b7a-9e1c-7d3f2a1b0c9e',
    deliveryCount: 2,
    receivedAt: '2025-02-26T19:06:49.640Z',
    freshestDownloadToken,
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

  it('carries the freshest download token without touching the delivery it was built from', () => {
    const envelope = fixture('recording.completed');
    const original = envelope.download_token;
    const event = build(envelope, 'fresher-token-from-a-later-copy');
    expect(event.data.download_token).toBe('fresher-token-from-a-later-copy');
    expect(envelope.download_token).toBe(original);
    expect(build(envelope).data.download_token).toBe(original);
  });

  it.each<[string, ZoomEnvelope, string]>([
    ['the RTMS meeting_uuid', fixture('meeting.rtms_started'), '/Gx2k7+Rq0S1o9Lb//nYQw=='],
    ['the account id when there is no meeting', fixture('app_deauthorized'), 'wA8sT3KqRj2cXy7mN0pLzQ'],
    ['"unknown" when there is neither', { event: 'endpoint.url_validation', payload: { plainToken: 'x' } }, UNKNOWN_SUBJECT],
  ])('uses %s as subject', (_name, envelope, subject) => {
    expect(build(envelope).subject).toBe(subject);
  });
});
