import { MAX_JSON_DEPTH, jsonBodyText, jsonDepthExceeds } from './json-body';
import { parseEnvelope } from './envelope';

const nested = (levels: number, inner = '1') =>
  '{"event":"recording.completed","payload":{"x":' + '['.repeat(levels) + inner + ']'.repeat(levels) + '}}';

describe('the shared body rule (jsonBodyText)', () => {
  it('accepts plain UTF-8 JSON and gives its text unchanged', () => {
    const body = '{"event":"meeting.started","payload":{"topic":"Reunión — Q1 ✓"}}';
    expect(jsonBodyText(Buffer.from(body, 'utf8'))).toEqual({ ok: true, text: body });
    expect(jsonBodyText(body)).toEqual({ ok: true, text: body });
  });

  it('refuses a leading UTF-8 BOM, as bytes and as already-decoded text, the same way', () => {
    const body = '{"event":"meeting.started","payload":{}}';
    expect(jsonBodyText(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(body)]))).toEqual({
      ok: false,
      reason: 'body_bom',
    });
    // What dedup reads from a format-1 record, or from Buffer#toString of a format-2 value.
    expect(jsonBodyText('\ufeff' + body)).toEqual({ ok: false, reason: 'body_bom' });
    expect(parseEnvelope(Buffer.from('\ufeff' + body, 'utf8'))).toEqual({ ok: false, reason: 'body_bom' });
    expect(parseEnvelope('\ufeff' + body)).toEqual({ ok: false, reason: 'body_bom' });
  });

  it('refuses bytes that are not UTF-8 as body_not_json', () => {
    expect(jsonBodyText(Buffer.from([0x7b, 0xc3, 0x28, 0x7d]))).toEqual({ ok: false, reason: 'body_not_json' });
  });

  it(`accepts ${MAX_JSON_DEPTH} levels of nesting and refuses one more, without overflowing on thousands`, () => {
    // The envelope and payload objects are two levels.
    expect(parseEnvelope(nested(MAX_JSON_DEPTH - 2)).ok).toBe(true);
    expect(parseEnvelope(nested(MAX_JSON_DEPTH - 1))).toEqual({ ok: false, reason: 'body_too_deep' });
    expect(parseEnvelope(Buffer.from(nested(200_000)))).toEqual({ ok: false, reason: 'body_too_deep' });
  });

  it('does not count brackets inside strings, escaped quotes included', () => {
    const inString = '{"event":"x","payload":{"s":"' + '[{'.repeat(500) + '\\"' + '[{'.repeat(500) + '"}}';
    expect(jsonDepthExceeds(inString, 3)).toBe(false);
    expect(parseEnvelope(inString).ok).toBe(true);
    // An escaped backslash before the closing quote ends the string: the brackets after it count.
    expect(jsonDepthExceeds('{"a":"\\\\",' + '"b":' + '['.repeat(10) + ']'.repeat(10) + '}', 5)).toBe(true);
  });
});
