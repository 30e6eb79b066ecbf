import {
  applyAssignment,
  duplicateCopy,
  parseAssignment,
  parseBody,
  prepareBody,
  type JsonObject,
} from './delivery-body';

const recording = (): JsonObject => ({
  payload: {
    account_id: 'acc',
    object: {
      uuid: 'old-uuid==',
      recording_files: [
        { id: 'f1', meeting_id: 'old-uuid==', download_url: 'https://us06web.zoom.us/rec/webhook_download/AAA/sig1' },
        {
          id: 'f2',
          meeting_id: 'old-uuid==',
          download_url: 'https://us06web.zoom.us/rec/webhook_download/BBB/sig2?x=1',
        },
      ],
    },
  },
  event_ts: 1,
  event: 'recording.completed',
  download_token: 'tok',
});

describe('delivery body', () => {
  it('makes a new occurrence: fresh event_ts and meeting UUID (files follow), unless ids are kept', () => {
    const input = recording();
    const out = prepareBody(input, { nowMs: 42, keepIds: false, assignments: [] });
    const object = (out.payload as JsonObject).object as JsonObject;
    expect(out.event_ts).toBe(42);
    expect(object.uuid).not.toBe('old-uuid==');
    expect((object.recording_files as JsonObject[]).map((f) => f.meeting_id)).toEqual([object.uuid, object.uuid]);
    expect(input).toEqual(recording());
    const kept = prepareBody(input, { nowMs: 42, keepIds: true, assignments: [] });
    expect(((kept.payload as JsonObject).object as JsonObject).uuid).toBe('old-uuid==');
    // Key order is part of the signed bytes: rewriting must not move keys.
    expect(Object.keys(out)).toEqual(Object.keys(input));
  });

  it('points download URLs at a download server and sets the token', () => {
    const out = prepareBody(recording(), {
      nowMs: 1,
      keepIds: true,
      downloadBase: 'http://127.0.0.1:5000/',
      downloadToken: 'T',
      assignments: [],
    });
    const files = ((out.payload as JsonObject).object as JsonObject).recording_files as JsonObject[];
    expect(files[0]!.download_url).toMatch(/^http:\/\/127\.0\.0\.1:5000\/rec\/webhook_download\/f1\/[\w-]{16}$/);
    expect(files[1]!.download_url).toMatch(/^http:\/\/127\.0\.0\.1:5000\/rec\/webhook_download\/f2\/[\w-]{16}$/);
    expect(out.download_token).toBe('T');
  });

  it('varies a duplicate copy only in the token and the opaque end of each URL', () => {
    const copy = duplicateCopy(recording(), 'tok2');
    const files = ((copy.payload as JsonObject).object as JsonObject).recording_files as JsonObject[];
    expect(copy.download_token).toBe('tok2');
    expect(files[0]!.download_url).toMatch(/^https:\/\/us06web\.zoom\.us\/rec\/webhook_download\/AAA\/[\w-]{16}$/);
    expect(files[1]!.download_url).toMatch(/^https:\/\/us06web\.zoom\.us\/rec\/webhook_download\/BBB\/[\w-]{16}\?x=1$/);
    const noToken = recording();
    delete noToken.download_token;
    expect('download_token' in duplicateCopy(noToken, 'x')).toBe(false);
  });

  it('parses --set assignments: JSON values when they parse, paths with indices, no prototype keys', () => {
    expect(parseAssignment('payload.object.recording_files[1].file_size=7')).toEqual({
      path: ['payload', 'object', 'recording_files', '1', 'file_size'],
      value: 7,
    });
    expect(parseAssignment('a.b="7"')).toEqual({ path: ['a', 'b'], value: '7' });
    expect(parseAssignment('topic=a=b c')).toEqual({ path: ['topic'], value: 'a=b c' });
    expect(() => parseAssignment('__proto__.x=1')).toThrow(/invalid path/);
    expect(() => parseAssignment('=1')).toThrow(/PATH=VALUE/);
    const body: JsonObject = { a: 'text' };
    applyAssignment(body, parseAssignment('x.list[1].y=true'));
    expect(body.x).toEqual({ list: [undefined, { y: true }] });
    expect(() => applyAssignment(body, parseAssignment('a.b=1'))).toThrow(/a is not an object/);
  });

  it('accepts a body as printed by zoom-sim serve-downloads and refuses non-objects', () => {
    const inner = recording();
    expect(parseBody(JSON.stringify({ type: 'recording.completed', payload: inner }), 'f')).toEqual(inner);
    expect(() => parseBody('[1]', 'f')).toThrow(/JSON object/);
    expect(() => parseBody('{', 'f')).toThrow(/f is not JSON/);
  });
});
