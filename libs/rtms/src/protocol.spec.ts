import { AudioSegmenter, GapCounter, wavHeader } from './audio';
import {
  MSG,
  clientReadyAck,
  dataHandshake,
  handshakeSignature,
  keepAliveResponse,
  mediaMask,
  parseMediaList,
  parseMessage,
  signalingHandshake,
  signalingUrls,
  stopReasonName,
} from './protocol';

describe('RTMS handshake signature', () => {
  it('matches vector V6: HMAC-SHA256("client_id,meeting_uuid,rtms_stream_id", client secret)', () => {
    expect(
      handshakeSignature(
        'test-client-id',
        'test-client-secret',
        '4444AAAiAAAAAiAiAiiAii==',
        '609340fb2a7946909659956c8aa9250c',
      ),
    ).toBe('a728f3e385cbb16f3d47dfb06fb1293bfdbc62beeb4ac0bf9ea5710aadf09d97');
  });

  it('differs for another secret', () => {
    expect(
      handshakeSignature('test-client-id', 'other', '4444AAAiAAAAAiAiAiiAii==', '609340fb2a7946909659956c8aa9250c'),
    ).not.toBe('a728f3e385cbb16f3d47dfb06fb1293bfdbc62beeb4ac0bf9ea5710aadf09d97');
  });
});

describe('RTMS message builders', () => {
  const meeting = { instanceId: 'u==', instanceField: 'meeting_uuid' as const, streamId: 's1' };

  it('builds the signaling handshake with the instance field Zoom expects', () => {
    expect(signalingHandshake(meeting, 'sig', 7)).toEqual({
      msg_type: 1,
      protocol_version: 1,
      meeting_uuid: 'u==',
      rtms_stream_id: 's1',
      sequence: 7,
      signature: 'sig',
    });
    expect(signalingHandshake({ ...meeting, instanceField: 'session_id' }, 'sig', 7)).toHaveProperty(
      'session_id',
      'u==',
    );
  });

  it('asks for the configured media as a bitmask, audio as L16 16 kHz mono', () => {
    const m = dataHandshake(meeting, 'sig', ['audio', 'transcript']);
    expect(m).toMatchObject({
      msg_type: 3,
      media_type: 9,
      signature: 'sig',
      payload_encryption: false,
      media_params: { audio: { codec: 1, sample_rate: 1, channel: 1 } },
    });
    expect(mediaMask(['audio', 'video', 'share', 'transcript', 'chat'])).toBe(31);
  });

  it('echoes the keep-alive timestamp and acks readiness on the stream', () => {
    expect(keepAliveResponse(1712345)).toEqual({ msg_type: 13, timestamp: 1712345 });
    expect(clientReadyAck('s1')).toEqual({ msg_type: 7, rtms_stream_id: 's1' });
  });
});

describe('parseMessage', () => {
  it('reads a keep-alive from a text frame and from a binary frame alike', () => {
    const json = JSON.stringify({ msg_type: MSG.KEEP_ALIVE_REQ, timestamp: 99 });
    expect(parseMessage(json)).toEqual({ kind: 'keep_alive', timestamp: 99 });
    expect(parseMessage(Buffer.from(json))).toEqual({ kind: 'keep_alive', timestamp: 99 });
  });

  it('reads the signaling answer, ok or refused with its status', () => {
    expect(
      parseMessage(
        JSON.stringify({
          msg_type: 2,
          status_code: 0,
          media_server: { server_urls: { all: 'ws://m', audio: 'ws://a' } },
        }),
      ),
    ).toEqual({
      kind: 'signaling_handshake',
      ok: true,
      statusCode: 0,
      reason: undefined,
      mediaUrls: { all: 'ws://m', audio: 'ws://a' },
    });
    expect(parseMessage(JSON.stringify({ msg_type: 2, status_code: 5, reason: 'invalid signature' }))).toMatchObject({
      ok: false,
      statusCode: 5,
      reason: 'invalid signature',
    });
  });

  it('decodes audio as base64 bytes and transcripts as text', () => {
    const pcm = Buffer.from([1, 2, 3, 4]);
    const audio = parseMessage(
      JSON.stringify({
        msg_type: 14,
        content: { user_id: 16778240, user_name: 'A', data: pcm.toString('base64'), timestamp: 1000 },
      }),
    );
    expect(audio).toEqual({
      kind: 'media',
      frame: { media: 'audio', data: pcm, userId: '16778240', userName: 'A', timestamp: 1000 },
    });
    const t = parseMessage(JSON.stringify({ msg_type: 17, content: { user_id: 1, data: 'hello', timestamp: 5 } }));
    expect(t).toMatchObject({ kind: 'media', frame: { media: 'transcript', text: 'hello', timestamp: 5 } });
  });

  it('names stop reasons and sees the end of the stream', () => {
    expect(parseMessage(JSON.stringify({ msg_type: 8, state: 4, stop_reason: 6 }))).toEqual({
      kind: 'stream_state',
      state: 4,
      stopReason: 'meeting_ended',
      ended: true,
    });
    expect(parseMessage(JSON.stringify({ msg_type: 8, state: 1 }))).toMatchObject({ ended: false });
    expect(stopReasonName(99)).toBe('unknown_99');
  });

  it('classifies garbage and unknown types without throwing', () => {
    expect(parseMessage(Buffer.from([0xff, 0x00]))).toMatchObject({ kind: 'invalid' });
    expect(parseMessage('[]')).toMatchObject({ kind: 'invalid' });
    expect(parseMessage('{"msg_type":99}')).toEqual({ kind: 'other', msgType: 99 });
    expect(parseMessage('{"msg_type":14}')).toMatchObject({ kind: 'invalid' });
  });
});

describe('config helpers', () => {
  it('splits server_urls and keeps WebSocket URLs only', () => {
    expect(signalingUrls('wss://a.zoom.us, https://x ,ws://b')).toEqual(['wss://a.zoom.us', 'ws://b']);
  });

  it('parses RTMS_MEDIA', () => {
    expect(parseMediaList('audio, transcript,audio')).toEqual(['audio', 'transcript']);
    expect(parseMediaList('video')).toHaveProperty('error');
    expect(parseMediaList(' , ')).toHaveProperty('error');
  });
});

describe('audio', () => {
  it('writes a 44-byte PCM WAV header with the data size', () => {
    const h = wavHeader(32000);
    expect(h.length).toBe(44);
    expect(h.toString('ascii', 0, 4)).toBe('RIFF');
    expect(h.readUInt32LE(4)).toBe(36 + 32000);
    expect(h.readUInt32LE(24)).toBe(16000);
    expect(h.readUInt32LE(28)).toBe(32000);
    expect(h.readUInt32LE(40)).toBe(32000);
  });

  it('cuts segments of whole frames, no byte lost or repeated', () => {
    const seg = new AudioSegmenter(100); // 100 ms = 3200 bytes at 16 kHz mono L16
    const frames = Array.from({ length: 12 }, (_, i) => Buffer.alloc(640, i)); // 20 ms each
    const out = frames.map((f, i) => seg.push(f, 1000 + i * 20)).filter((s) => s !== undefined);
    const last = seg.flush();
    expect(out.map((s) => [s.startTimestamp, s.endTimestamp, s.frames])).toEqual([
      [1000, 1100, 5],
      [1100, 1200, 5],
    ]);
    expect(last).toMatchObject({ startTimestamp: 1200, endTimestamp: 1240, frames: 2 });
    expect(Buffer.concat([...out.map((s) => s.pcm), last!.pcm]).equals(Buffer.concat(frames))).toBe(true);
    expect(seg.flush()).toBeUndefined();
  });

  it('counts a gap when a frame starts later than the previous ended', () => {
    const g = new GapCounter(5);
    expect(g.observe(0, 20)).toBe(0);
    expect(g.observe(20, 20)).toBe(0);
    expect(g.observe(100, 20)).toBe(60);
    expect(g.observe(121, 20)).toBe(0);
    expect([g.gaps, g.missingMs]).toEqual([1, 60]);
  });
});
