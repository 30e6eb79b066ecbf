import { type JsonBodyFailure, jsonBodyText } from './json-body';

/**
 * A Zoom webhook body (docs/ZOOM-FACTS.md §4). Unknown top-level fields are kept: `data` of the canonical event is the
 * whole body.
 */
export interface ZoomEnvelope {
  event: string;
  /** Epoch milliseconds (the signature header carries seconds). */
  event_ts?: number;
  payload: Record<string, unknown>;
  /** Top-level sibling of `payload` on recording events; a credential, never log it. */
  download_token?: string;
  [k: string]: unknown;
}

export type EnvelopeFailure = JsonBodyFailure | 'event_missing';

export type ParseEnvelopeResult = { ok: true; envelope: ZoomEnvelope } | { ok: false; reason: EnvelopeFailure };

/**
 * Parses a verified body into an envelope. `body_bom` and `body_too_deep` are the body rule of json-body.ts (a string
 * is already decoded text: format-1 records carry the body as a JSON string). `body_not_json` covers anything that is
 * not a JSON object (including
 * a `payload` that is present but not an object: replacing it with `{}` would make different deliveries look
 * identical to the canonical key). `event_missing` means no non-empty string `event`.
 *
 * `event_ts` and `download_token` of the wrong type are dropped so the typed fields never lie; the raw body
 * (kept on `zoom.webhooks.raw`) still has them.
 */
export function parseEnvelope(rawBody: Buffer | string): ParseEnvelopeResult {
  // The one body rule the ingress and dedup share (json-body.ts): UTF-8, no BOM, bounded depth.
  const text = jsonBodyText(rawBody);
  if (!text.ok) return { ok: false, reason: text.reason };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.text);
  } catch {
    return { ok: false, reason: 'body_not_json' };
  }
  const body = asRecord(parsed);
  if (body === undefined) return { ok: false, reason: 'body_not_json' };

  const { event, payload } = body;
  if (typeof event !== 'string' || event === '') return { ok: false, reason: 'event_missing' };

  let normalisedPayload: Record<string, unknown>;
  if (payload === undefined || payload === null) normalisedPayload = {};
  else {
    const record = asRecord(payload);
    if (record === undefined) return { ok: false, reason: 'body_not_json' };
    normalisedPayload = record;
  }

  const envelope: ZoomEnvelope = { ...body, event, payload: normalisedPayload };
  if (
    envelope.event_ts !== undefined &&
    !(typeof envelope.event_ts === 'number' && Number.isFinite(envelope.event_ts))
  ) {
    delete envelope.event_ts;
  }
  if (envelope.download_token !== undefined && typeof envelope.download_token !== 'string')
    delete envelope.download_token;
  return { ok: true, envelope };
}

/** The value as a plain JSON object, or undefined for arrays, null and primitives. */
export function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * Instance UUID of the meeting, webinar or Video SDK session an event belongs to (docs/ZOOM-PLATFORM.md):
 * - `payload.object.uuid` for meeting, webinar and recording events;
 * - RTMS events name it `meeting_uuid`, `webinar_uuid` (webinar.rtms_*) or `session_id` (session.rtms_*),
 *   directly in `payload` or, in newer payloads, in `payload.object`;
 * - Video SDK `session.*` events (e.g. session.recording_completed) carry `payload.object.session_id`.
 * `session_id` is read only for `session.*` events: elsewhere a field of that name is not an instance id.
 */
export function meetingUuidOf(envelope: ZoomEnvelope): string | undefined {
  const { payload } = envelope;
  const object = asRecord(payload.object);
  const found =
    nonEmptyString(object?.uuid) ??
    nonEmptyString(payload.meeting_uuid) ??
    nonEmptyString(object?.meeting_uuid) ??
    nonEmptyString(payload.webinar_uuid) ??
    nonEmptyString(object?.webinar_uuid);
  if (found !== undefined || !envelope.event.startsWith('session.')) return found;
  return nonEmptyString(payload.session_id) ?? nonEmptyString(object?.session_id);
}

/** Zoom account id: `payload.account_id`, else `payload.object.account_id`. */
export function accountIdOf(envelope: ZoomEnvelope): string | undefined {
  return nonEmptyString(envelope.payload.account_id) ?? nonEmptyString(asRecord(envelope.payload.object)?.account_id);
}
