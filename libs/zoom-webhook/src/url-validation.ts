import { createHmac } from 'node:crypto';
import { type ZoomEnvelope, asRecord } from './envelope';

export const URL_VALIDATION_EVENT = 'endpoint.url_validation';

/**
 * Longest plainToken we echo back. Zoom's are 22 characters; the cap keeps a forged body from making us echo megabytes.
 */
export const MAX_PLAIN_TOKEN_LENGTH = 256;

// A type alias, not an interface, so it stays assignable to Record<string, unknown> (an HTTP JSON body).
export type UrlValidationAnswer = {
  plainToken: string;
  encryptedToken: string;
};

/**
 * Zoom's challenge-response (docs/ZOOM-FACTS.md §2): `encryptedToken` = hex(HMAC-SHA256(secret, plainToken)). Call it
 * with
 * the secret that verified the challenge's own signature.
 */
export function answerUrlValidation(plainToken: string, secret: string): UrlValidationAnswer {
  return { plainToken, encryptedToken: createHmac('sha256', secret).update(plainToken, 'utf8').digest('hex') };
}

/**
 * The challenge token of an `endpoint.url_validation` envelope, or undefined when the envelope is another event or
 * the token is not a non-empty string of at most {@link MAX_PLAIN_TOKEN_LENGTH} characters.
 */
export function plainTokenOf(envelope: ZoomEnvelope): string | undefined {
  if (envelope.event !== URL_VALIDATION_EVENT) return undefined;
  const token = asRecord(envelope.payload)?.plainToken;
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_PLAIN_TOKEN_LENGTH) return undefined;
  return token;
}
