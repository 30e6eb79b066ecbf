import type { ClaimRequest, FencedLease, TokenRecord } from '../dedup-store.port';

// Argument checks shared by every adapter, so a bad call fails the same way on Redis, embedded and
// memory (a memory adapter that accepts what Redis refuses would hide bugs until production).
// Messages name the argument, never its value: keys and owners are harmless, tokens are not.

export function assertTtl(ttlMs: number, what = 'ttlMs'): void {
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
    throw new RangeError(`${what} must be a positive integer number of milliseconds`);
  }
}

export function assertName(value: string, what: string): void {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`${what} must be a non-empty string`);
  }
}

export function assertClaimRequests(requests: readonly ClaimRequest[]): void {
  if (!Array.isArray(requests)) {
    throw new TypeError('claimMany expects an array of requests');
  }
  requests.forEach((request, index) => {
    assertName(request.key, `requests[${index}].key`);
    assertName(request.owner, `requests[${index}].owner`);
    assertTtl(request.ttlMs, `requests[${index}].ttlMs`);
  });
}

export function assertTokenOffer(key: string, record: TokenRecord, ttlMs: number): void {
  assertName(key, 'key');
  if (typeof record?.token !== 'string') {
    throw new TypeError('record.token must be a string');
  }
  if (!Number.isFinite(record.receivedAt)) {
    throw new TypeError('record.receivedAt must be a finite epoch-ms number');
  }
  assertTtl(ttlMs);
}

export function assertFencedLease(lease: FencedLease): void {
  assertName(lease?.name, 'lease.name');
  assertName(lease.owner, 'lease.owner');
  if (!Number.isSafeInteger(lease.token) || lease.token <= 0) {
    throw new RangeError('lease.token must be a positive integer');
  }
}
