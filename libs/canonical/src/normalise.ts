/** The value as a plain JSON object, or undefined for arrays, null and primitives. */
export function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

export function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * An identifier Zoom sends as a number in some events and a string in others (docs/ZOOM-FACTS.md §4.1 "type drift" on
 * `object.id`), as a string: 85746065123 and "85746065123" are the same meeting.
 */
export function idString(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return nonEmptyString(value);
}

export function stringOr(value: unknown, fallback: string): string {
  return typeof value === 'string' ? value : fallback;
}
