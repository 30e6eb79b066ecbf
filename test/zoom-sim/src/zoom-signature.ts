import { createHmac } from 'node:crypto';

/*
 * Zoom's side of the signature, written from docs/ZOOM-FACTS.md §1/§2 and deliberately independent of
 * libs/zoom-webhook: if both shared one implementation, a bug in it would sign and verify consistently
 * and no test would notice.
 */

/** `x-zm-signature` for a body: `v0=` + hex(HMAC-SHA256(secret, `v0:{timestamp}:{raw body bytes}`)). */
export function zoomSignature(secret: string, timestampSec: number | string, body: Buffer | string): string {
  const hmac = createHmac('sha256', secret);
  hmac.update(`v0:${timestampSec}:`, 'utf8');
  // Hash the bytes that go on the wire; a string is encoded as UTF-8, as Zoom sends it.
  hmac.update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
  return `v0=${hmac.digest('hex')}`;
}

/** `encryptedToken` Zoom expects back from the CRC challenge: hex(HMAC-SHA256(secret, plainToken)). */
export function zoomEncryptedToken(secret: string, plainToken: string): string {
  return createHmac('sha256', secret).update(plainToken, 'utf8').digest('hex');
}
