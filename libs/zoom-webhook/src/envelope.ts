import { type JsonBodyFailure, jsonBodyText } from './json-body';

/** A Zoom webhook body (ZOOM.md §4). Unknown top-level fields are kept: `data` of the canonical event is the whole body. */
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
 * is already decoded text: format-1 records carry the body as a JSON string). `body_not_json` covers anything that is not a JSON object (including
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
  if (envelope.event_ts !== undefined && !(typeof envelope.event_ts === 'number' && Number.isFinite(envelope.event_ts))) {
    delete envelope.event_ts;
  }
  if (envelope.download_token !== undefined && typeof envelope.download_token !== 'string') delete envelope.download_token;
  return { ok: true, envelope };
}

/** The value as a plain JSON object, or undefined for arrays, null and primitives. */
export function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * Meeting (or webinar) instance UUID: `payload.object.uuid` for meeting, webinar and recording events,
 * `payload.meeting_uuid` for RTMS events, whose fields sit directly in `payload`.
 */
export function meetingUuidOf(envelope: ZoomEnvelope): string | undefined {
  return nonEmptyString(asRecord(envelope.payload.object)?.uuid) ?? nonEmptyString(envelope.payload.meeting_uuid);
}

/** Zoom account id: `payload.account_id`, else `payload.object.account_id`. */
export function accountIdOf(envelope: ZoomEnvelope): string | undefined {
  return nonEmptyString(envelope.payload.account_id) ?? nonEmptyString(asRecord(envelope.payload.object)?.account_id);
}
