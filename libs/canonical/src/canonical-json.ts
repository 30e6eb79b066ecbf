import { asRecord, idString } from './normalise';

/**
 * Fields that differ between copies of one occurrence and so never take part in its identity (SPEC §6,
 * docs/ZOOM-FACTS.md §11). The two `x-zm-*` names are headers, not body fields; they are listed so that a body that
 * ever
 * carries them still digests the same.
 */
export const VOLATILE_FIELDS: ReadonlySet<string> = new Set([
  'download_token',
  'download_url',
  'play_url',
  'event_ts',
  'x-zm-request-id',
  'x-zm-trackingid',
]);

/**
 * JSON with object keys sorted by UTF-16 code unit (not `localeCompare`, whose order depends on the runtime's
 * locale data) and no whitespace, so two bodies that differ only in key order serialise identically. Array order
 * is kept: it is data. Values that JSON cannot carry behave as in `JSON.stringify` (undefined members are
 * skipped, non-finite numbers become null).
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value))
    return '[' + value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',') + ']';
  const record = asRecord(value);
  if (record !== undefined) {
    const members: string[] = [];
    for (const key of Object.keys(record).sort()) {
      const v = record[key];
      if (v !== undefined) members.push(JSON.stringify(key) + ':' + canonicalJson(v));
    }
    return '{' + members.join(',') + '}';
  }
  return JSON.stringify(value) ?? 'null';
}

/** A copy of the value without {@link VOLATILE_FIELDS}, at any depth. The input is not modified. */
export function withoutVolatile(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutVolatile);
  const record = asRecord(value);
  if (record === undefined) return value;
  // No prototype: a `__proto__` member (legal JSON) must stay data, not reach Object.prototype's setter and vanish.
  const out = Object.create(null) as Record<string, unknown>;
  for (const [k, v] of Object.entries(record)) {
    if (!VOLATILE_FIELDS.has(k)) out[k] = withoutVolatile(v);
  }
  return out;
}

/** A copy of the envelope with `payload.object.id` as a string, so number and string forms digest the same. */
export function withStringObjectId<T extends { payload: Record<string, unknown> }>(envelope: T): T {
  const object = asRecord(envelope.payload.object);
  const id = idString(object?.id);
  if (object === undefined || id === undefined || object.id === id) return envelope;
  return { ...envelope, payload: { ...envelope.payload, object: { ...object, id } } };
}
