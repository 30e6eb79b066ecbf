import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from './usage-error';

/*
 * The body `zoom-pipeline send` delivers: loaded from a fixture or a file, then made into a new occurrence
 * (fresh event_ts and meeting instance UUID), pointed at a download server, and varied per
 * copy the way Zoom's simultaneous duplicates vary (download_token and the opaque end of download_url only).
 */

export type JsonObject = Record<string, unknown>;

/** File lists whose entries carry `download_url` and `meeting_id` (the same two lists the canonical key reads). */
const FILE_LISTS = ['recording_files', 'participant_audio_files'] as const;

const FIXTURE_NAME = /^[A-Za-z0-9_.-]+$/;

export interface BodySourceOptions {
  repoRoot: string | undefined;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Reads all of stdin, for `-`. */
  readStdin: () => Promise<string>;
}

/** Fixture directories, first match wins: $ZOOM_FIXTURES_DIR (as zoom-sim honours it), then the repo's copy. */
export function fixtureDirs(opts: Pick<BodySourceOptions, 'repoRoot' | 'env' | 'cwd'>): string[] {
  const dirs: string[] = [];
  const fromEnv = opts.env.ZOOM_FIXTURES_DIR;
  if (fromEnv !== undefined && fromEnv !== '') dirs.push(path.resolve(opts.cwd, fromEnv));
  if (opts.repoRoot !== undefined) dirs.push(path.join(opts.repoRoot, 'test', 'zoom-sim', 'fixtures'));
  return dirs;
}

export function fixtureNames(dirs: readonly string[]): string[] {
  const names = new Set<string>();
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) if (f.endsWith('.json')) names.add(f.slice(0, -'.json'.length));
  }
  return [...names].sort();
}

/**
 * The text of `source`: `-` is stdin, an existing file is read as is, anything else is a fixture name
 * (`recording.completed` or `recording.completed.json`). Fixtures are data read at run time, not imports.
 */
export async function loadBodyText(source: string, opts: BodySourceOptions): Promise<{ text: string; from: string }> {
  if (source === '-') return { text: await opts.readStdin(), from: 'stdin' };
  const asPath = path.resolve(opts.cwd, source);
  if (existsSync(asPath) && statSync(asPath).isFile()) return { text: readFileSync(asPath, 'utf8'), from: asPath };
  const name = source.endsWith('.json') ? source.slice(0, -'.json'.length) : source;
  const dirs = fixtureDirs(opts);
  if (FIXTURE_NAME.test(name)) {
    for (const dir of dirs) {
      const file = path.join(dir, `${name}.json`);
      if (existsSync(file)) return { text: readFileSync(file, 'utf8'), from: file };
    }
  }
  const known = fixtureNames(dirs);
  throw new UsageError(
    `no such file or fixture: ${source}` +
      (known.length > 0 ? ` (fixtures: ${known.join(', ')})` : ' (no fixture directory found)'),
  );
}

/** Parses a webhook body; a `recording.completed` line printed by zoom-sim's serve-downloads is unwrapped. */
export function parseBody(text: string, from: string): JsonObject {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${from} is not JSON: ${(err as Error).message}`);
  }
  if (!isObject(parsed)) throw new UsageError(`${from} must hold a JSON object (a Zoom webhook body)`);
  if (
    parsed.event === undefined &&
    typeof parsed.type === 'string' &&
    isObject(parsed.payload) &&
    typeof parsed.payload.event === 'string'
  ) {
    return parsed.payload;
  }
  return parsed;
}

export interface Assignment {
  path: string[];
  value: unknown;
}

const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'prototype', 'constructor']);

/** `a.b[0].c=value`: the value is JSON when it parses (`42`, `true`, `"42"`, `{}`), else the literal string. */
export function parseAssignment(text: string): Assignment {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new UsageError(`--set needs PATH=VALUE, got ${JSON.stringify(text)}`);
  const rawPath = text.slice(0, eq);
  const segments = rawPath.replace(/\[(\d+)\]/g, '.$1').split('.');
  if (segments.some((s) => s === '' || FORBIDDEN_SEGMENTS.has(s)))
    throw new UsageError(`--set: invalid path ${JSON.stringify(rawPath)}`);
  const rawValue = text.slice(eq + 1);
  let value: unknown;
  try {
    value = JSON.parse(rawValue);
  } catch {
    value = rawValue;
  }
  return { path: segments, value };
}

/** Sets `value` at `path`, creating missing objects (or arrays, before a numeric segment) on the way. */
export function applyAssignment(body: JsonObject, { path: segments, value }: Assignment): void {
  let node: unknown = body;
  for (let i = 0; i < segments.length; i++) {
    const key = segments[i]!;
    const last = i === segments.length - 1;
    if (node === null || typeof node !== 'object') {
      throw new UsageError(`--set ${segments.join('.')}: ${segments.slice(0, i).join('.')} is not an object`);
    }
    const container = node as Record<string, unknown>;
    if (Array.isArray(container) && !/^\d+$/.test(key))
      throw new UsageError(`--set ${segments.join('.')}: ${segments.slice(0, i).join('.')} is an array`);
    if (last) {
      container[key] = value;
    } else {
      if (container[key] === undefined || container[key] === null)
        container[key] = /^\d+$/.test(segments[i + 1]!) ? [] : {};
      node = container[key];
    }
  }
}

/** 16 random bytes in standard base64: the shape of Zoom's meeting instance UUIDs. */
export function freshMeetingUuid(): string {
  return randomBytes(16).toString('base64');
}

/** JWT-shaped but fake, like zoom-sim's: only its shape matters to the pipeline, never its content. */
export function fakeDownloadToken(): string {
  const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
  const claims = Buffer.from(
    JSON.stringify({ sub: 'zoom-pipeline-cli', jti: randomUUID(), exp: Math.floor(Date.now() / 1000) + 86_400 }),
  ).toString('base64url');
  return `${header}.${claims}.${randomBytes(32).toString('base64url')}`;
}

function opaqueSegment(): string {
  return randomBytes(12).toString('base64url');
}

export interface PrepareOptions {
  nowMs: number;
  /** Keep the body's meeting UUID, so the delivery repeats the occurrence it describes. */
  keepIds: boolean;
  /**
   * Origin of a download server (zoom-sim's serve-downloads); URLs become `<base>/rec/webhook_download/<id>/<opaque>`.
   */
  downloadBase?: string;
  /** download_token of copy 0. */
  downloadToken?: string;
  /** Applied last, so they override the rewrites. */
  assignments: readonly Assignment[];
}

/** The body of copy 0. The input is not modified. */
export function prepareBody(input: JsonObject, opts: PrepareOptions): JsonObject {
  const body = structuredClone(input);
  // A fresh event_ts makes the delivery look new; it is volatile, so it never changes the canonical key by itself.
  body.event_ts = opts.nowMs;
  if (!opts.keepIds) refreshMeetingUuid(body);
  if (opts.downloadBase !== undefined) {
    const base = opts.downloadBase.replace(/\/+$/, '');
    for (const file of filesOf(body)) {
      const id = typeof file.id === 'string' || typeof file.id === 'number' ? String(file.id) : undefined;
      if (id !== undefined && typeof file.download_url === 'string') {
        file.download_url = `${base}/rec/webhook_download/${encodeURIComponent(id)}/${opaqueSegment()}`;
      }
    }
  }
  if (opts.downloadToken !== undefined) body.download_token = opts.downloadToken;
  for (const a of opts.assignments) applyAssignment(body, a);
  return body;
}

/**
 * Gives the body a new meeting instance UUID wherever it carries one (`payload.object.uuid`, the RTMS events'
 * `payload.meeting_uuid`, the files' `meeting_id`). Canonical keys of meeting, participant, RTMS and recording
 * events all include that UUID, so the delivery becomes a new occurrence instead of a suppressed duplicate.
 */
function refreshMeetingUuid(body: JsonObject): void {
  const payload = isObject(body.payload) ? body.payload : undefined;
  const object = payload !== undefined && isObject(payload.object) ? payload.object : undefined;
  const old = new Set<string>();
  const uuid = freshMeetingUuid();
  if (object !== undefined && typeof object.uuid === 'string') {
    old.add(object.uuid);
    object.uuid = uuid;
  }
  if (payload !== undefined && typeof payload.meeting_uuid === 'string') {
    old.add(payload.meeting_uuid);
    payload.meeting_uuid = uuid;
  }
  for (const file of filesOf(body))
    if (typeof file.meeting_id === 'string' && old.has(file.meeting_id)) file.meeting_id = uuid;
}

/**
 * Copy `i` ≥ 1 of a simultaneous duplicate: the same body with another download_token (when the body has one)
 * and another last path segment in every download_url, which is how Zoom's reported duplicates differ.
 */
export function duplicateCopy(body: JsonObject, downloadToken: string): JsonObject {
  const copy = structuredClone(body);
  if ('download_token' in copy) copy.download_token = downloadToken;
  for (const file of filesOf(copy)) {
    if (typeof file.download_url === 'string') file.download_url = withNewLastSegment(file.download_url);
  }
  return copy;
}

function withNewLastSegment(url: string): string {
  try {
    const u = new URL(url);
    u.pathname = u.pathname.replace(/[^/]*$/, opaqueSegment());
    return u.toString();
  } catch {
    return url.replace(/[^/?#]*(?=[?#]|$)/, opaqueSegment());
  }
}

/** The entries of every file list in `payload.object`, mutable in place. */
export function filesOf(body: JsonObject): JsonObject[] {
  const object = isObject(body.payload) && isObject(body.payload.object) ? body.payload.object : undefined;
  if (object === undefined) return [];
  const files: JsonObject[] = [];
  for (const list of FILE_LISTS) {
    const entries = object[list];
    if (Array.isArray(entries)) for (const f of entries) if (isObject(f)) files.push(f);
  }
  return files;
}

export function isObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
