import { createHash } from 'node:crypto';
import type { FileWorkItem } from '@zoom-pipeline/contracts';

/** SPEC §6 default. Different segments of one recording differ in `{recording_start}`. */
export const DEFAULT_OBJECT_KEY_TEMPLATE =
  '{account_id}/{yyyy}/{mm}/{dd}/{meeting_id}-{topic}/{recording_start}-{file_type}.{ext}';

export const OBJECT_KEY_PLACEHOLDERS = [
  'account_id',
  'meeting_id',
  'meeting_uuid',
  'topic',
  'host_id',
  'yyyy',
  'mm',
  'dd',
  'recording_start',
  'recording_end',
  'file_type',
  'file_id',
  'ext',
  'recording_type',
  'app_user_id',
] as const;

export type ObjectKeyPlaceholder = (typeof OBJECT_KEY_PLACEHOLDERS)[number];

/** Longest substituted value in UTF-8 bytes; longer ones (topics, mostly) are cut at a character boundary. */
export const MAX_KEY_VALUE_LENGTH = 80;

/** S3's limit on key length, in UTF-8 bytes. */
export const MAX_OBJECT_KEY_LENGTH = 1024;

/** Longest key segment in UTF-8 bytes: a file name on ext4/xfs/APFS (the filesystem store writes keys as paths). */
export const MAX_KEY_SEGMENT_BYTES = 255;

/**
 * Marks a value the sanitiser changed: `<sanitised prefix>~<10 hex of SHA-256 of the original>`. `~` is never
 * produced by the sanitiser, so an unchanged id and a changed one cannot meet, and two changed ids differ by their
 * digest (40 bits): `u/a` and `u?a` get different keys (issue: distinct files overwrote each other).
 */
const ESCAPE_MARK = '~';
const ESCAPE_DIGEST_HEX = 10;

/**
 * Thrown by {@link objectKey} for a template that {@link validateObjectKeyTemplate} refuses; config should have caught
 * it at start-up.
 */
export class ObjectKeyTemplateError extends Error {
  readonly code = 'invalid_object_key_template';
  constructor(readonly problems: readonly string[]) {
    super(`invalid object key template: ${problems.join('; ')}`);
    this.name = 'ObjectKeyTemplateError';
  }
}

type Token = { kind: 'literal'; text: string } | { kind: 'placeholder'; name: ObjectKeyPlaceholder };

const KNOWN: ReadonlySet<string> = new Set(OBJECT_KEY_PLACEHOLDERS);
const SAFE_LITERAL = /^[A-Za-z0-9._\-/]*$/;

/**
 * Problems with an `OBJECT_KEY_TEMPLATE`, one line each, empty when it is usable. Checked once at start-up so a
 * typo fails the deployment instead of every upload.
 *
 * Besides syntax, a template must keep different files apart: it needs `{file_id}`, or `{recording_start}`,
 * `{file_type}` and a meeting (`{meeting_id}` or `{meeting_uuid}`). Users who drop `{recording_start}` should add
 * `{file_id}`. Note that even the SPEC default maps two files of one segment with the same `file_type` (Zoom's
 * separate speaker, gallery and shared-screen MP4s) to one key; see {@link findObjectKeyCollisions}.
 */
export function validateObjectKeyTemplate(template: string): string[] {
  if (template === '') return ['the template is empty'];
  const { tokens, problems } = tokenize(template);

  for (const t of tokens) {
    if (t.kind === 'literal' && !SAFE_LITERAL.test(t.text)) {
      problems.push(`literal text "${t.text}" may only contain A-Z, a-z, 0-9, ".", "_", "-" and "/"`);
    }
  }

  // Segment shape with each placeholder as "*": values are never empty, "." or "..", so only literals can form
  // an empty or dot-only segment.
  const segments = tokens
    .map((t) => (t.kind === 'literal' ? t.text : '*'))
    .join('')
    .split('/');
  if (segments[0] === '') problems.push('the key must not start with "/"');
  if (segments.length > 1 && segments[segments.length - 1] === '') problems.push('the key must not end with "/"');
  if (segments.slice(1, -1).some((s) => s === '')) problems.push('the key must not contain an empty segment ("//")');
  if (segments.some((s) => /^\.+$/.test(s))) problems.push('the key must not contain a "." or ".." segment');

  const used = new Set(tokens.flatMap((t) => (t.kind === 'placeholder' ? [t.name] : [])));
  const separatesFiles =
    used.has('file_id') ||
    (used.has('recording_start') && used.has('file_type') && (used.has('meeting_id') || used.has('meeting_uuid')));
  if (!separatesFiles) {
    problems.push(
      'the template must contain {file_id}, or {recording_start}, {file_type} and {meeting_id} or ' +
        '{meeting_uuid}, so that different files get different keys',
    );
  }

  const longest = tokens.reduce((n, t) => n + (t.kind === 'literal' ? t.text.length : MAX_KEY_VALUE_LENGTH), 0);
  if (longest > MAX_OBJECT_KEY_LENGTH)
    problems.push(`keys could reach ${longest} bytes; S3 allows ${MAX_OBJECT_KEY_LENGTH}`);
  return problems;
}

/** A key function for a template, validated once. Throws {@link ObjectKeyTemplateError}. */
export function compileObjectKeyTemplate(template: string): (item: FileWorkItem) => string {
  const problems = validateObjectKeyTemplate(template);
  if (problems.length > 0) throw new ObjectKeyTemplateError(problems);
  const { tokens } = tokenize(template);
  return (item) => {
    let key = '';
    for (const t of tokens) {
      if (t.kind === 'literal') {
        key += t.text;
        continue;
      }
      const value = placeholderValue(t.name, item);
      // No extension: `…-MP4-id` rather than `…-MP4-id._` (transcripts and chat files can come without one).
      if (value === '' && key.endsWith('.')) key = key.slice(0, -1);
      key += value;
    }
    // An empty value can leave a segment of literal dots (`{ext}./…` without an extension): never "." or "..".
    return key
      .split('/')
      .map((segment) => (segment === '' || /^\.+$/.test(segment) ? '_' : capSegment(segment)))
      .join('/');
  };
}

/**
 * The object key of a file (SPEC §6). Every substituted value is sanitised ({@link sanitiseKeyValue}): letters
 * and digits of every script, `.`, `_`, `-`, and `~` only in an escape, and the template's own `/` separators;
 * no value can add a path segment, no segment is empty or over {@link MAX_KEY_SEGMENT_BYTES} bytes. Ids
 * (`{file_id}`, `{account_id}`, …) are injective: a changed one carries a digest of the original.
 */
export function objectKey(template: string, item: FileWorkItem): string {
  return compileObjectKeyTemplate(template)(item);
}

/**
 * Files of one batch that a template maps to the same key. Storing them would keep one and report the others as
 * already stored; callers should refuse or dead-letter them instead.
 */
export function findObjectKeyCollisions(
  template: string,
  items: readonly FileWorkItem[],
): Array<{ key: string; fileIds: string[] }> {
  const keyOf = compileObjectKeyTemplate(template);
  const byKey = new Map<string, string[]>();
  for (const item of items) {
    const key = keyOf(item);
    const ids = byKey.get(key);
    if (ids === undefined) byKey.set(key, [item.fileId]);
    else if (!ids.includes(item.fileId)) ids.push(item.fileId);
  }
  return [...byKey].filter(([, ids]) => ids.length > 1).map(([key, fileIds]) => ({ key, fileIds }));
}

/**
 * Makes one value safe as (part of) a key segment: Unicode NFC, letters, marks and digits of every script are kept
 * (a Cyrillic, CJK or Arabic topic stays readable), anything else (whitespace, `/`, punctuation, controls, bidi
 * marks) becomes `_`, runs of `_` and `.` collapse, a leading `.` becomes `_` (no hidden files, no `.`/`..`), the
 * result is cut to {@link MAX_KEY_VALUE_LENGTH} UTF-8 bytes at a character boundary, and an empty value becomes `_`.
 */
export function sanitiseKeyValue(value: string): string {
  const safe = cutToBytes(
    value
      .normalize('NFC')
      .replace(/[^\p{L}\p{M}\p{N}._-]+/gu, '_')
      .replace(/^\.+/, '_')
      .replace(/_{2,}/g, '_')
      .replace(/\.{2,}/g, '.'),
    MAX_KEY_VALUE_LENGTH,
    // Last, so a cut cannot leave it either: a segment never ends in `._` (the mark of a missing extension).
  ).replace(/[._]*\.[._]*_$/, '_');
  return safe === '' ? '_' : safe;
}

/**
 * {@link sanitiseKeyValue} for a value that identifies something (a file, account, meeting, host, type): unchanged
 * when already safe, else the sanitised text plus `~` and a digest of the original, so different ids never share
 * a key.
 */
export function sanitiseKeyId(value: string): string {
  const safe = sanitiseKeyValue(value);
  if (safe === value) return safe;
  return `${cutToBytes(safe, MAX_KEY_VALUE_LENGTH - ESCAPE_DIGEST_HEX - 1)}${ESCAPE_MARK}${digest(value)}`;
}

function digest(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex').slice(0, ESCAPE_DIGEST_HEX);
}

/** The longest prefix of whole code points within `maxBytes` UTF-8 bytes. */
function cutToBytes(value: string, maxBytes: number): string {
  if (Buffer.byteLength(value, 'utf8') <= maxBytes) return value;
  let out = '';
  let bytes = 0;
  for (const ch of value) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (bytes + n > maxBytes) break;
    out += ch;
    bytes += n;
  }
  return out;
}

/** A segment over the filesystem's name limit (several long values in one segment) keeps a prefix and a digest. */
function capSegment(segment: string): string {
  if (Buffer.byteLength(segment, 'utf8') <= MAX_KEY_SEGMENT_BYTES) return segment;
  return `${cutToBytes(segment, MAX_KEY_SEGMENT_BYTES - ESCAPE_DIGEST_HEX - 1)}${ESCAPE_MARK}${digest(segment)}`;
}

function tokenize(template: string): { tokens: Token[]; problems: string[] } {
  const tokens: Token[] = [];
  const problems: string[] = [];
  for (const m of template.matchAll(/\{([^{}]*)\}|[^{}]+|[{}]/g)) {
    const [text, name] = m;
    if (name !== undefined) {
      if (KNOWN.has(name)) tokens.push({ kind: 'placeholder', name: name as ObjectKeyPlaceholder });
      else
        problems.push(
          `unknown placeholder {${name}}; known: ${OBJECT_KEY_PLACEHOLDERS.map((p) => `{${p}}`).join(' ')}`,
        );
    } else if (text === '{' || text === '}') {
      problems.push(`unbalanced "${text}"`);
    } else {
      tokens.push({ kind: 'literal', text });
    }
  }
  return { tokens, problems };
}

function placeholderValue(name: ObjectKeyPlaceholder, item: FileWorkItem): string {
  switch (name) {
    case 'account_id':
      return sanitiseKeyId(item.accountId);
    case 'meeting_id':
      return sanitiseKeyId(item.meetingId);
    case 'meeting_uuid':
      return keySafeMeetingUuid(item.meetingUuid);
    case 'topic':
      return sanitiseKeyValue(item.topic);
    case 'host_id':
      return sanitiseKeyId(item.hostId);
    case 'yyyy':
      return datePart(item, (d) => String(d.getUTCFullYear()).padStart(4, '0'));
    case 'mm':
      return datePart(item, (d) => pad2(d.getUTCMonth() + 1));
    case 'dd':
      return datePart(item, (d) => pad2(d.getUTCDate()));
    case 'recording_start':
      return compactTime(item.recordingStart);
    case 'recording_end':
      return compactTime(item.recordingEnd);
    case 'file_type':
      return sanitiseKeyId(item.fileType);
    case 'file_id':
      return sanitiseKeyId(item.fileId);
    case 'ext':
      // Empty when Zoom sent none: the key then ends without a dot (see compileObjectKeyTemplate).
      return sanitiseKeyValue(item.fileExtension)
        .replace(/^[._-]+|[._-]+$/g, '')
        .toLowerCase();
    case 'recording_type':
      return sanitiseKeyValue(item.recordingType ?? '');
    case 'app_user_id':
      // The linked app user (accounts feature); recordings of hosts nobody linked go under `unlinked`.
      return item.appUserId !== undefined && item.appUserId !== '' ? sanitiseKeyId(item.appUserId) : 'unlinked';
  }
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Meeting UUIDs are base64 (`/Gx2k7+Rq0S1o9Lb//nYQw==`). Their base64url form is already key-safe and, unlike the
 * generic sanitiser (which maps `/` and `+` alike and collapses `__`), keeps two different UUIDs apart.
 */
function keySafeMeetingUuid(uuid: string): string {
  if (!BASE64.test(uuid) || uuid.length > MAX_KEY_VALUE_LENGTH) return sanitiseKeyId(uuid);
  return uuid.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** Strict ISO 8601 with an offset only: `Date.parse` of anything else is implementation-defined. */
function parseIso(value: string): Date | undefined {
  if (!ISO_8601.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

/**
 * `{yyyy}/{mm}/{dd}` come from the file's own start (UTC), falling back to the meeting's. Not the meeting's first:
 * a recurring or long-lived meeting instance can start days before this recording (a 2023-11-16 recording of an
 * instance started 2023-11-03 belongs under 2023/11/16).
 */
function datePart(item: FileWorkItem, part: (d: Date) => string): string {
  const d = parseIso(item.recordingStart) ?? parseIso(item.meetingStartTime);
  return d === undefined ? sanitiseKeyValue('') : part(d);
}

/** `2025-02-26T18:00:09Z` → `20250226T180009Z` (UTC; milliseconds only when not zero). Unparsable: sanitised as is. */
function compactTime(value: string): string {
  const d = parseIso(value);
  if (d === undefined) return sanitiseKeyId(value);
  const ms = d.getUTCMilliseconds();
  return (
    String(d.getUTCFullYear()).padStart(4, '0') +
    pad2(d.getUTCMonth() + 1) +
    pad2(d.getUTCDate()) +
    'T' +
    pad2(d.getUTCHours()) +
    pad2(d.getUTCMinutes()) +
    pad2(d.getUTCSeconds()) +
    (ms === 0 ? '' : '.' + String(ms).padStart(3, '0')) +
    'Z'
  );
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}
