import { createHmac, timingSafeEqual } from 'node:crypto';

/** Why a delivery was refused (SPEC §3: each maps to a 401 with this code). */
export type VerifyFailure =
  | 'signature_missing'
  | 'signature_malformed'
  | 'timestamp_missing'
  | 'timestamp_malformed'
  | 'timestamp_stale'
  | 'signature_mismatch';

export interface VerifyInput {
  /** The request body exactly as received: the HMAC is computed over these bytes, never a re-serialisation. */
  rawBody: Buffer;
  /** `x-zm-signature` header value. */
  signature: string | undefined;
  /** `x-zm-request-timestamp` header value (epoch seconds). */
  timestamp: string | undefined;
  /** Configured Secret Tokens, current first; several during a rotation. */
  secrets: readonly string[];
  /** The caller's clock: the domain never reads the time itself. */
  nowMs: number;
  toleranceMs: number;
}

export type VerifyResult =
  | {
      ok: true;
      /** Index into `secrets` of the secret that signed the delivery (the URL-validation answer must use it). */
      secretIndex: number;
      /** nowMs - timestamp in ms; positive when the delivery is older than our clock. */
      skewMs: number;
    }
  | {
      ok: false;
      reason: VerifyFailure;
      /** Only for `timestamp_stale`: the signature was valid, this is how far off the timestamp was. */
      skewMs?: number;
    };

const SIGNATURE_PREFIX = 'v0=';
// Zoom sends lowercase hex; case is accepted leniently because hex decoding is case-insensitive anyway.
const SIGNATURE_FORMAT = /^v0=[0-9a-fA-F]{64}$/;
// Epoch seconds are 10 digits today. Up to 11 digits is allowed (year 5138); 13 digits would be milliseconds,
// a sender bug worth naming as malformed rather than reporting as "stale". Digits only also keeps the signed
// message `v0:{ts}:{body}` unambiguous: the timestamp can never contain the `:` separator.
const TIMESTAMP_FORMAT = /^[0-9]{1,11}$/;

/**
 * Checks a Zoom delivery (docs/ZOOM-FACTS.md §1, SPEC §3).
 *
 * Order: header presence and format, then the HMAC against every secret, then the timestamp tolerance. The
 * tolerance comes last on purpose: a correctly signed but stale delivery (`timestamp_stale`) must stay
 * distinguishable from a forgery (`signature_mismatch`), because stale-but-valid deliveries are counted.
 */
export function verifySignature(input: VerifyInput): VerifyResult {
  const { signature, timestamp } = input;
  if (signature === undefined || signature === '') return { ok: false, reason: 'signature_missing' };
  if (!SIGNATURE_FORMAT.test(signature)) return { ok: false, reason: 'signature_malformed' };
  if (timestamp === undefined || timestamp === '') return { ok: false, reason: 'timestamp_missing' };
  if (!TIMESTAMP_FORMAT.test(timestamp)) return { ok: false, reason: 'timestamp_malformed' };

  const presented = Buffer.from(signature.slice(SIGNATURE_PREFIX.length), 'hex');
  const secretIndex = matchingSecretIndex(presented, timestamp, input.rawBody, input.secrets);
  if (secretIndex < 0) return { ok: false, reason: 'signature_mismatch' };

  const skewMs = input.nowMs - Number(timestamp) * 1000;
  if (Math.abs(skewMs) > input.toleranceMs) return { ok: false, reason: 'timestamp_stale', skewMs };
  return { ok: true, secretIndex, skewMs };
}

/**
 * Compares the presented digest with the digest of every secret, always all of them, so the response time
 * does not reveal how many secrets are configured before the matching one. Returns the first match or -1.
 */
function matchingSecretIndex(
  presented: Buffer,
  timestamp: string,
  rawBody: Buffer,
  secrets: readonly string[],
): number {
  let found = -1;
  for (let i = 0; i < secrets.length; i++) {
    const secret = secrets[i];
    // An empty Secret Token would be an HMAC key anyone can guess; never let it authenticate a delivery.
    if (secret === undefined || secret === '') continue;
    const expected = hmacDigest(secret, timestamp, rawBody);
    // Both are 32-byte SHA-256 digests (the format check guarantees 64 hex chars), as timingSafeEqual requires.
    const equal = timingSafeEqual(expected, presented);
    if (equal && found < 0) found = i;
  }
  return found;
}

function hmacDigest(secret: string, timestamp: string, rawBody: Buffer | string): Buffer {
  const hmac = createHmac('sha256', secret);
  hmac.update(`v0:${timestamp}:`, 'utf8');
  // A string body is hashed as its UTF-8 bytes, which is what Zoom sends on the wire (docs/ZOOM-FACTS.md §8 V5).
  hmac.update(typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody);
  return hmac.digest();
}

/**
 * The `x-zm-signature` value Zoom would send for this body: `v0=` + lowercase hex HMAC-SHA256. For tests,
 * the CLI and benchmarks; the body is signed byte for byte (a string is taken as UTF-8).
 */
export function signDelivery(secret: string, timestamp: string, rawBody: Buffer | string): string {
  return SIGNATURE_PREFIX + hmacDigest(secret, timestamp, rawBody).toString('hex');
}

/**
 * Human explanation for the 401 body. It names the check that failed and never any computed or received
 * value (no signature, digest or secret), so a probing client learns nothing it did not send.
 */
export function describeVerifyFailure(reason: VerifyFailure, toleranceMs?: number): string {
  switch (reason) {
    case 'signature_missing':
      return 'x-zm-signature header is missing';
    case 'signature_malformed':
      return 'x-zm-signature header must be "v0=" followed by 64 hex characters';
    case 'timestamp_missing':
      return 'x-zm-request-timestamp header is missing';
    case 'timestamp_malformed':
      return 'x-zm-request-timestamp header must be epoch seconds (digits only)';
    case 'timestamp_stale':
      return toleranceMs === undefined
        ? 'x-zm-request-timestamp is outside the allowed tolerance'
        : `x-zm-request-timestamp is outside the allowed tolerance of ${formatSeconds(toleranceMs)} seconds`;
    case 'signature_mismatch':
      return 'no configured secret token matches the signature';
  }
}

function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return Number.isInteger(s) ? String(s) : s.toFixed(3);
}
