import { loadFixture } from './fixtures';
import {
  awkwardMeetingUuid,
  buildPayload,
  deepMerge,
  meetingStarted,
  participantJoined,
  recordingCompleted,
  rtmsEvent,
  sessionRecordingCompleted,
  zoomMeetingUuid,
} from './payload-builder';

/** Every key path of a JSON value in order (array items collapsed to their first element's shape). */
function keyPaths(v: unknown, prefix = ''): string[] {
  if (Array.isArray(v)) return v.length === 0 ? [] : keyPaths(v[0], `${prefix}[]`);
  if (v === null || typeof v !== 'object') return [];
  return Object.entries(v).flatMap(([k, child]) => [`${prefix}.${k}`, ...keyPaths(child, `${prefix}.${k}`)]);
}

describe('deepMerge / buildPayload', () => {
  it('merges objects, replaces arrays, deletes on undefined and keeps key order', () => {
    const base = { a: 1, nested: { x: 1, y: 2 }, list: [1, 2, 3], gone: true };
    const merged = deepMerge(base, { nested: { y: 3, z: 4 }, list: [9], gone: undefined, extra: 'e' });
    expect(merged).toEqual({ a: 1, nested: { x: 1, y: 3, z: 4 }, list: [9], extra: 'e' });
    expect(Object.keys(merged)).toEqual(['a', 'nested', 'list', 'extra']);
    expect(base).toEqual({ a: 1, nested: { x: 1, y: 2 }, list: [1, 2, 3], gone: true });
  });

  it('does not alias override values into the result', () => {
    const override = { nested: { deep: { v: 1 } } };
    const merged = deepMerge({}, override);
    override.nested.deep.v = 2;
    expect(merged).toEqual({ nested: { deep: { v: 1 } } });
  });

  it('builds from a fixture', () => {
    const p = buildPayload('recording.completed', { payload: { object: { topic: 'T' } }, download_token: undefined });
    const object = (p.payload as { object: Record<string, unknown> }).object;
    expect(object.topic).toBe('T');
    expect(object.uuid).toBe('/Gx2k7+Rq0S1o9Lb//nYQw==');
    expect(p).not.toHaveProperty('download_token');
    expect(Object.keys(p)).toEqual(['payload', 'event_ts', 'event']);
  });
});

describe('identifiers', () => {
  it('meeting UUIDs are 16 bytes of canonical base64', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const uuid = zoomMeetingUuid();
      expect(uuid).toMatch(/^[A-Za-z0-9+/]{22}==$/);
      expect(Buffer.from(uuid, 'base64')).toHaveLength(16);
      seen.add(uuid);
    }
    expect(seen.size).toBe(200);
  });

  it('awkward UUIDs start with "/", contain "//" and "+", and round-trip through base64', () => {
    for (let i = 0; i < 200; i++) {
      const uuid = awkwardMeetingUuid();
      expect(uuid.startsWith('/')).toBe(true);
      expect(uuid).toContain('//');
      expect(uuid).toContain('+');
      expect(Buffer.from(uuid, 'base64').toString('base64')).toBe(uuid);
      expect(Buffer.from(uuid, 'base64')).toHaveLength(16);
    }
  });
});

describe('scenario helpers', () => {
  it('recordingCompleted has the fixture key order and points every file at the download server', () => {
    const ev = recordingCompleted({
      downloadBaseUrl: 'http://127.0.0.1:4000/',
      downloadToken: 'tok',
      files: [
        { id: 'f-1', size: 10 },
        { fileType: 'M4A', size: 5 },
        { fileType: 'CHAT', size: 2 },
      ],
    });
    const fixture = loadFixture('recording.completed');
    // The fixture has an extra file type per entry but the same key structure (CHAT simply lacks play_url).
    expect(keyPaths(ev)).toEqual(keyPaths(fixture));
    const o = ev.payload.object;
    expect(ev.download_token).toBe('tok');
    expect(o.total_size).toBe(17);
    expect(o.recording_count).toBe(3);
    expect(o.recording_files.map((f) => [f.file_type, f.file_extension, f.recording_type])).toEqual([
      ['MP4', 'MP4', 'shared_screen_with_speaker_view'],
      ['M4A', 'M4A', 'audio_only'],
      ['CHAT', 'TXT', 'chat_file'],
    ]);
    expect(o.recording_files[0]!.download_url).toMatch(
      /^http:\/\/127\.0\.0\.1:4000\/rec\/webhook_download\/f-1\/[A-Za-z0-9_-]+$/,
    );
    expect(o.recording_files[2]).not.toHaveProperty('play_url');
    for (const f of o.recording_files) {
      expect(f.meeting_id).toBe(o.uuid);
      expect(f.id?.length).toBeGreaterThan(0);
      expect(f.recording_start).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }
    expect(typeof o.id).toBe('number');
    expect(String(ev.event_ts)).toMatch(/^\d{13}$/);
  });

  it('recordingCompleted can leave out the download token and generates unique ids', () => {
    const a = recordingCompleted({ downloadBaseUrl: 'http://h', downloadToken: null });
    const b = recordingCompleted({ downloadBaseUrl: 'http://h' });
    expect(a).not.toHaveProperty('download_token');
    expect(b.download_token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(a.payload.object.uuid).not.toBe(b.payload.object.uuid);
    expect(a.payload.object.recording_files[0]!.id).not.toBe(b.payload.object.recording_files[0]!.id);
    expect(a.payload.object.recording_files[0]!.id).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    );
  });

  it('meetingStarted and participantJoined follow their fixtures', () => {
    const started = meetingStarted({ meetingUuid: 'u==' });
    expect(keyPaths(started)).toEqual(keyPaths(loadFixture('meeting.started')));
    expect(started.payload.object.uuid).toBe('u==');
    expect(typeof started.payload.object.id).toBe('string');

    const joined = participantJoined();
    expect(keyPaths(joined)).toEqual(keyPaths(loadFixture('meeting.participant_joined')));
    expect(joined.payload.object.participant.participant_uuid).toMatch(
      /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/,
    );
    expect(joined.payload.object.participant.user_id).toMatch(/^\d+$/);

    const guest = participantJoined({ guest: true }).payload.object.participant;
    expect([guest.id, guest.participant_user_id, guest.email]).toEqual(['', '', '']);
  });

  it('recordingCompleted leaves out the members a file spec omits and puts participant audio in its own list', () => {
    const ev = recordingCompleted({
      downloadBaseUrl: 'http://127.0.0.1:4000',
      files: [
        { fileType: 'CC', size: 0, omit: ['id', 'file_size', 'status', 'recording_type'] },
        { fileType: 'MP4', size: 10, status: 'processing' },
        { id: 'shared', fileType: 'M4A', size: 5, participantAudio: true },
      ],
    });
    const o = ev.payload.object;
    expect(o.recording_files).toHaveLength(2);
    for (const k of ['id', 'file_size', 'status', 'recording_type']) expect(o.recording_files[0]).not.toHaveProperty(k);
    expect(o.recording_files[1]!.status).toBe('processing');
    expect(o.participant_audio_files?.map((f) => f.id)).toEqual(['shared']);
    expect(Object.keys(o).indexOf('participant_audio_files')).toBeGreaterThan(
      Object.keys(o).indexOf('recording_files'),
    );
  });

  it('rtmsEvent names the instance per product, in payload or payload.object', () => {
    expect(Object.keys(rtmsEvent({ product: 'webinar', instanceId: 'W' }).payload)).toEqual([
      'account_id',
      'webinar_uuid',
      'operator_id',
      'rtms_stream_id',
      'server_urls',
    ]);
    expect(Object.keys(loadFixture('webinar.rtms_started').payload as object)).toEqual(
      Object.keys(rtmsEvent({ product: 'webinar' }).payload),
    );
    const stopped = rtmsEvent({ product: 'session', phase: 'stopped', instanceId: 'S', nested: true });
    expect(stopped.event).toBe('session.rtms_stopped');
    expect(stopped.payload.object).toMatchObject({ session_id: 'S', stop_reason: 6 });
  });

  it("sessionRecordingCompleted has the session fixture's key order", () => {
    const ev = sessionRecordingCompleted({ downloadBaseUrl: 'http://127.0.0.1:4000', sessionId: 'S==' });
    const fixture = loadFixture('session.recording_completed') as { payload: { object: object } };
    expect(Object.keys(ev)).toEqual(Object.keys(fixture));
    expect(Object.keys(ev.payload.object)).toEqual(
      Object.keys(fixture.payload.object).filter((k) => k !== 'participant_audio_files'),
    );
    expect(ev.payload.object.session_id).toBe('S==');
  });
});
