/** Small parsers for SPEC §4 values. They return a value or a reason; they never echo the input. */

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** `24h`, `2.5s`, `90m`, `500ms`, `1d`; whitespace between number and unit allowed. A bare number needs a unit. */
export function parseDuration(text: string): number | { error: string } {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)\s*$/i.exec(text);
  if (!m) return { error: 'must be a duration with a unit, e.g. 500ms, 2.5s, 90m, 2h, 1d' };
  return Math.round(Number(m[1]) * DURATION_UNITS[m[2].toLowerCase()]);
}

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1000,
  kib: 1024,
  mb: 1e6,
  mib: 1024 ** 2,
  gb: 1e9,
  gib: 1024 ** 3,
};

/** `524288`, `512KiB`, `16MiB`, `1GB`. */
export function parseSize(text: string): number | { error: string } {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$/i.exec(text);
  if (!m) return { error: 'must be a size in bytes, optionally with a unit: 524288, 512KiB, 16MiB' };
  return Math.floor(Number(m[1]) * SIZE_UNITS[(m[2] ?? 'b').toLowerCase()]);
}

export function parsePort(text: string): number | { error: string } {
  if (!/^\d+$/.test(text.trim())) return { error: 'must be a TCP port number (0-65535)' };
  const n = Number(text);
  return n >= 0 && n <= 65535 ? n : { error: 'must be a TCP port number (0-65535)' };
}

export function parseBool(text: string): boolean | { error: string } {
  const t = text.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(t)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(t)) return false;
  return { error: 'must be true or false' };
}

export function parseList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export function isError(v: unknown): v is { error: string } {
  return typeof v === 'object' && v !== null && 'error' in v;
}
