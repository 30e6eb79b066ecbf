import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { replaceFile, writeFully } from '@zoom-pipeline/file-journal';
import type { ClaimEntry, TokenEntry } from '../state/dedup-state';

/**
 * The embedded store's append-only log: one JSON object per line.
 *   claim  {"c": key, "o": owner, "x": expiresAt}
 *   token  {"t": key, "v": token, "r": receivedAt, "x": expiresAt}
 * A record is appended only when it changed the state (a new claim, a fresher token), so replaying the
 * file in order with "last record wins" rebuilds the state exactly.
 */
export type LogRecord =
  { kind: 'claim'; key: string; entry: ClaimEntry } | { kind: 'token'; key: string; entry: TokenEntry };

export function encodeRecord(record: LogRecord): string {
  // JSON.stringify escapes line breaks inside strings, so one record is always exactly one line.
  const { key, entry } = record;
  return record.kind === 'claim'
    ? `${JSON.stringify({ c: key, o: record.entry.owner, x: entry.expiresAt })}\n`
    : `${JSON.stringify({ t: key, v: record.entry.token, r: record.entry.receivedAt, x: entry.expiresAt })}\n`;
}

export function decodeRecord(line: string): LogRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) {
    return undefined;
  }
  const v = value as Record<string, unknown>;
  if (typeof v.x !== 'number') {
    return undefined;
  }
  if (typeof v.c === 'string' && typeof v.o === 'string') {
    return { kind: 'claim', key: v.c, entry: { owner: v.o, expiresAt: v.x } };
  }
  if (typeof v.t === 'string' && typeof v.v === 'string' && typeof v.r === 'number') {
    return { kind: 'token', key: v.t, entry: { token: v.v, receivedAt: v.r, expiresAt: v.x } };
  }
  return undefined;
}

export interface ReplayResult {
  /** Complete lines read (valid or not). */
  records: number;
  /** Complete lines that were not a valid record (skipped; counted so an operator can notice). */
  corrupt: number;
  /** Bytes after the last newline: a write torn by a crash. */
  tornTailBytes: number;
  /** Offset just after the last complete line: where appending must continue. */
  goodBytes: number;
}

/** Streams the log line by line (the file can be large; no whole-file read). Missing file = empty log. */
export async function replayLog(path: string, onRecord: (record: LogRecord) => void): Promise<ReplayResult> {
  const result: ReplayResult = { records: 0, corrupt: 0, tornTailBytes: 0, goodBytes: 0 };
  try {
    await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      return result;
    }
    throw err;
  }
  let carry: Buffer = Buffer.alloc(0);
  for await (const chunk of createReadStream(path)) {
    let data = carry.length > 0 ? Buffer.concat([carry, chunk as Buffer]) : (chunk as Buffer);
    let newline: number;
    while ((newline = data.indexOf(0x0a)) !== -1) {
      // Splitting on the byte 0x0a is safe in UTF-8: it never occurs inside a multi-byte character.
      const line = data.subarray(0, newline).toString('utf8');
      data = data.subarray(newline + 1);
      result.goodBytes += newline + 1;
      if (line.length === 0) {
        continue;
      }
      result.records += 1;
      const record = decodeRecord(line);
      if (record) {
        onRecord(record);
      } else {
        result.corrupt += 1;
      }
    }
    carry = Buffer.from(data);
  }
  // Only the last line can be torn: every earlier line was followed by a newline that reached the disk.
  result.tornTailBytes = carry.length;
  return result;
}

/**
 * Replaces the log at `path` with `lines` atomically: write a new file, fsync it, rename it over the old
 * one. A crash at any point leaves either the old or the new complete file. The caller fsyncs the
 * directory afterwards (so the rename itself survives a crash); when this rejects, the old file is intact.
 */
export function rewriteLog(path: string, lines: Iterable<string>): Promise<{ bytes: number; records: number }> {
  return replaceFile(
    path,
    async (handle) => {
      let bytes = 0;
      let records = 0;
      // Write in ~1 MiB slices: one string for millions of records could exceed V8's string limit.
      let pending: string[] = [];
      let pendingLength = 0;
      const flush = async (): Promise<void> => {
        const data = Buffer.from(pending.join(''), 'utf8');
        await writeFully(handle, data);
        bytes += data.length;
        pending = [];
        pendingLength = 0;
      };
      for (const line of lines) {
        pending.push(line);
        pendingLength += line.length;
        records += 1;
        if (pendingLength >= 1 << 20) await flush();
      }
      if (pending.length > 0) await flush();
      return { bytes, records };
    },
    { suffix: '.compact', mode: 0o600 },
  );
}
