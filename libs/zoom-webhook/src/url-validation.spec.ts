import { type ZoomEnvelope, parseEnvelope } from './envelope';
import { MAX_PLAIN_TOKEN_LENGTH, answerUrlValidation, plainTokenOf } from './url-validation';
import { signDelivery, verifySignature } from './verify-signature';

const SECRET = 'test-secret-token';
const V3_BODY =
  '{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1740596809123,"event":"endpoint.url_validation"}';

function challenge(plainToken: unknown): ZoomEnvelope {
  return { event: 'endpoint.url_validation', payload: { plainToken } };
}

describe('answerUrlValidation', () => {
  it('V2: answers the published encryptedToken and response body', () => {
    const answer = answerUrlValidation('qgg8vlvZRS6UYooatFL8Aw', SECRET);
    expect(JSON.stringify(answer)).toBe(
      '{"plainToken":"qgg8vlvZRS6UYooatFL8Aw",' +
        '"encryptedToken":"9c8ad56737c19db2904b301c0781e86857e999f39f07727668cf62a5e7e298c8"}',
    );
  });

  it('V3: answers the signed challenge with the secret that verified it (rotation)', () => {
    const rawBody = Buffer.from(V3_BODY);
    const secrets = ['the-new-secret', SECRET];
    const verified = verifySignature({
      rawBody,
      signature: signDelivery(SECRET, '1740596809', rawBody),
      timestamp: '1740596809',
      secrets,
      nowMs: 1740596809_000,
      toleranceMs: 60_000,
    });
    if (!verified.ok) throw new Error(verified.reason);
    const parsed = parseEnvelope(rawBody);
    if (!parsed.ok) throw new Error(parsed.reason);
    const token = plainTokenOf(parsed.envelope);
    expect(token).toBe('qgg8vlvZRS6UYooatFL8Aw');
    expect(answerUrlValidation(token!, secrets[verified.secretIndex]!).encryptedToken).toBe(
      '9c8ad56737c19db2904b301c0781e86857e999f39f07727668cf62a5e7e298c8',
    );
  });
});

describe('plainTokenOf', () => {
  it('accepts a token of up to the maximum length', () => {
    const longest = 'a'.repeat(MAX_PLAIN_TOKEN_LENGTH);
    expect(MAX_PLAIN_TOKEN_LENGTH).toBe(256);
    expect(plainTokenOf(challenge(longest))).toBe(longest);
  });

  it.each([
    ['an empty token', ''],
    ['a token over 256 characters', 'a'.repeat(257)],
    ['a numeric token', 12345],
    ['a missing token', undefined],
    ['an object token', { t: 'x' }],
  ])('refuses %s', (_name, token) => {
    expect(plainTokenOf(challenge(token))).toBeUndefined();
  });

  it('answers only endpoint.url_validation, so an ordinary event carrying plainToken cannot obtain an HMAC', () => {
    expect(plainTokenOf({ event: 'meeting.started', payload: { plainToken: 'abc' } })).toBeUndefined();
  });
});
