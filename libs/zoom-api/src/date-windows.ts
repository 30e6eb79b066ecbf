/** Calendar days (UTC) as `yyyy-mm-dd`, the form Zoom's `from`/`to` take. */
export type IsoDay = string;

export interface DayWindow {
  from: IsoDay;
  to: IsoDay;
}

const DAY_MS = 86_400_000;
const ISO_DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Parses `yyyy-mm-dd` (UTC midnight, epoch ms); throws a RangeError naming the argument otherwise. */
export function parseIsoDay(value: string, what = 'date'): number {
  const m = ISO_DAY.exec(value);
  const ms = m === null ? Number.NaN : Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (!Number.isFinite(ms) || formatIsoDay(ms) !== value)
    throw new RangeError(`${what} must be a calendar day yyyy-mm-dd, got ${JSON.stringify(value)}`);
  return ms;
}

export function formatIsoDay(ms: number): IsoDay {
  return new Date(ms).toISOString().slice(0, 10);
}

/**
 * Splits the inclusive day range [from, to] into consecutive, non-overlapping windows of at most `maxDays`
 * days each (Zoom refuses `from`/`to` more than one month apart; 30 days is within a month whatever the
 * month). Non-overlapping windows list every recording once: a meeting belongs to the one day it started on.
 */
export function splitIntoWindows(from: IsoDay, to: IsoDay, maxDays = 30): DayWindow[] {
  const start = parseIsoDay(from, 'from');
  const end = parseIsoDay(to, 'to');
  if (end < start) throw new RangeError(`from (${from}) is after to (${to})`);
  if (!Number.isSafeInteger(maxDays) || maxDays < 1) throw new RangeError('maxDays must be a positive integer');
  const windows: DayWindow[] = [];
  for (let at = start; at <= end; at += maxDays * DAY_MS) {
    windows.push({ from: formatIsoDay(at), to: formatIsoDay(Math.min(end, at + (maxDays - 1) * DAY_MS)) });
  }
  return windows;
}
