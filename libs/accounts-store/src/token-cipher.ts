import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export interface CipherKey {
  /** Short id written next to every sealed value, so a key can rotate while old values stay readable. */
  id: string;
  /** 32 bytes (AES-256). */
  key: Buffer;
}

export class TokenCipherError extends Error {
  constructor(
    readonly code: 'unknown_key' | 'tampered' | 'malformed',
    message: string,
  ) {
    super(message);
    this.name = 'TokenCipherError';
  }
}

const VERSION = 'zpe1';

/**
 * Tokens at rest: AES-256-GCM, a fresh 12-byte IV per value, and the record it belongs to (`context`, e.g.
 * `link:<appUserId>`) as additional authenticated data, so a sealed value copied into another record does not open.
 * Format `zpe1.<key id>.<iv>.<tag>.<ciphertext>` (base64url). Writes use the current key; reads accept it and every
 * previous key (ACCOUNTS_ENCRYPTION_KEYS).
 */
export class TokenCipher {
  private readonly keys = new Map<string, Buffer>();

  constructor(
    private readonly current: CipherKey,
    previous: readonly CipherKey[] = [],
  ) {
    for (const k of [current, ...previous]) {
      if (k.key.length !== 32) throw new TypeError(`encryption key ${k.id} must be 32 bytes`);
      if (!/^[A-Za-z0-9_-]{1,32}$/.test(k.id)) throw new TypeError('a key id is 1-32 letters, digits, _ or -');
      if (!this.keys.has(k.id)) this.keys.set(k.id, k.key);
    }
  }

  get currentKeyId(): string {
    return this.current.id;
  }

  seal(plaintext: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [
      VERSION,
      this.current.id,
      iv.toString('base64url'),
      cipher.getAuthTag().toString('base64url'),
      ct.toString('base64url'),
    ].join('.');
  }

  open(sealed: string, context: string): string {
    const parts = sealed.split('.');
    if (parts.length !== 5 || parts[0] !== VERSION) throw new TokenCipherError('malformed', 'not a sealed value');
    const key = this.keys.get(parts[1]);
    if (key === undefined)
      throw new TokenCipherError(
        'unknown_key',
        `sealed with key id ${parts[1]}, which is not configured (ACCOUNTS_ENCRYPTION_KEYS)`,
      );
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(parts[2], 'base64url'));
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(Buffer.from(parts[3], 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(parts[4], 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new TokenCipherError(
        'tampered',
        'the sealed value does not authenticate (wrong key, wrong record, or altered)',
      );
    }
  }

  /** The key id a value was sealed with (for re-sealing with the current key). */
  static keyIdOf(sealed: string): string | undefined {
    const parts = sealed.split('.');
    return parts.length === 5 ? parts[1] : undefined;
  }
}
