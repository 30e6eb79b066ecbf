import { randomBytes } from 'node:crypto';
import { TokenCipher, TokenCipherError } from './token-cipher';

const k1 = { id: 'k1', key: randomBytes(32) };
const k2 = { id: 'k2', key: randomBytes(32) };

describe('TokenCipher', () => {
  it('seals with the current key id and never shows the plaintext', () => {
    const sealed = new TokenCipher(k1).seal('access-token-value', 'link:u1');
    expect(sealed.startsWith('zpe1.k1.')).toBe(true);
    expect(sealed).not.toContain('access-token-value');
    expect(Buffer.from(sealed.split('.')[4], 'base64url').toString('utf8')).not.toContain('access');
    expect(new TokenCipher(k1).open(sealed, 'link:u1')).toBe('access-token-value');
  });

  it('reads values sealed with a previous key after rotation, and writes with the new one', () => {
    const old = new TokenCipher(k1).seal('t', 'link:u1');
    const rotated = new TokenCipher(k2, [k1]);
    expect(rotated.open(old, 'link:u1')).toBe('t');
    expect(TokenCipher.keyIdOf(rotated.seal('t', 'link:u1'))).toBe('k2');
    expect(() => new TokenCipher(k2).open(old, 'link:u1')).toThrow(expect.objectContaining({ code: 'unknown_key' }));
  });

  it('refuses a value moved to another record or altered', () => {
    const c = new TokenCipher(k1);
    const sealed = c.seal('t', 'link:u1');
    expect(() => c.open(sealed, 'link:u2')).toThrow(TokenCipherError);
    const parts = sealed.split('.');
    parts[4] = Buffer.from('xx').toString('base64url');
    expect(() => c.open(parts.join('.'), 'link:u1')).toThrow(expect.objectContaining({ code: 'tampered' }));
  });
});
