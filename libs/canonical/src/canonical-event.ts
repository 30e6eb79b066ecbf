import type { CanonicalEvent } from '@zoom-pipeline/contracts';
import { type ZoomEnvelope, accountIdOf, meetingUuidOf } from '@zoom-pipeline/zoom-webhook';

export interface CanonicalEventInput {
  envelope: ZoomEnvelope;
  /** canonicalId(canonicalKey(envelope)). */
  canonicalId: string;
  /** Zoom app name (`default` for `/webhooks/zoom`). */
  app: string;
  /** Id of the raw delivery that became canonical. */
  deliveryId: string;
  /** Deliveries of this occurrence seen so far, 1 for the first. */
  deliveryCount: number;
  /** ISO time the canonical delivery was received: the CloudEvent `time`. */
  receivedAt: string;
  /**
   * Member names whose values are replaced by {@link REDACTED} at any depth of `data` (EVENTS_REDACT_FIELDS): the
   * topic reaches every internal consumer, the uploader gets its token from zoom.recording.files instead.
   */
  redactFields?: readonly string[];
  /** The app user linked to the event's Zoom user or account (accounts feature): the `appuserid` extension. */
  appUserId?: string;
}

/** What a redacted value becomes: the member stays, so consumers can tell "redacted" from "Zoom sent none". */
export const REDACTED = '[redacted]';

/** The default of EVENTS_REDACT_FIELDS: the credentials Zoom puts in recording events. */
export const DEFAULT_REDACT_FIELDS: readonly string[] = ['download_token', 'password', 'recording_play_passcode'];

/** Subject for an event with neither a meeting UUID nor an account id. */
export const UNKNOWN_SUBJECT = 'unknown';

/** The `zoom.events` value (SPEC §5): a CloudEvents 1.0 envelope around the Zoom body. The input is not modified. */
export function buildCanonicalEvent(input: CanonicalEventInput): CanonicalEvent {
  const { envelope } = input;
  // `data` is the canonical delivery's own body: its URLs stay with its own download_token (never another copy's).
  const redacted = new Set<string>();
  const fields = new Set(input.redactFields ?? []);
  // Most bodies carry no credential: look first (no allocation), copy the tree only when something is replaced.
  const data = (
    containsField(envelope, fields) ? redact({ ...envelope }, fields, redacted) : { ...envelope }
  ) as Record<string, unknown>;
  return {
    specversion: '1.0',
    id: input.canonicalId,
    source: `zoom-pipeline/${input.app}`,
    type: `us.zoom.${envelope.event}`,
    subject: meetingUuidOf(envelope) ?? accountIdOf(envelope) ?? UNKNOWN_SUBJECT,
    time: input.receivedAt,
    datacontenttype: 'application/json',
    data,
    deliverycount: input.deliveryCount,
    zoomdeliveryid: input.deliveryId,
    zoomapp: input.app,
    ...(redacted.size > 0 ? { zoomredacted: [...redacted].sort().join(',') } : {}),
    ...(input.appUserId !== undefined ? { appuserid: input.appUserId } : {}),
  };
}

/**
 * The Zoom user an event belongs to, for routing to a linked app user: the host of a meeting or recording, else the
 * user a user-level event names (`app_deauthorized`'s `user_id`).
 */
export function zoomUserOf(envelope: ZoomEnvelope): string | undefined {
  const payload = envelope.payload as Record<string, unknown>;
  const object =
    payload.object !== null && typeof payload.object === 'object' ? (payload.object as Record<string, unknown>) : {};
  for (const v of [object.host_id, payload.user_id]) if (typeof v === 'string' && v !== '') return v;
  return undefined;
}

/** A copy of the value with the values of `fields` replaced at any depth; the names actually found go into `found`. */
function redact(value: unknown, fields: ReadonlySet<string>, found: Set<string>): unknown {
  if (fields.size === 0) return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, fields, found));
  if (value === null || typeof value !== 'object') return value;
  // No prototype: a `__proto__` member (legal JSON) must stay data.
  const out = Object.create(null) as Record<string, unknown>;
  for (const [k, v] of Object.entries(value)) {
    if (fields.has(k) && v !== undefined && v !== null) {
      out[k] = REDACTED;
      found.add(k);
    } else out[k] = redact(v, fields, found);
  }
  return out;
}

/** Whether redact() would replace anything in the value (false for no fields). */
function containsField(value: unknown, fields: ReadonlySet<string>): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) {
    for (const v of value) if (containsField(v, fields)) return true;
    return false;
  }
  const record = value as Record<string, unknown>;
  for (const k of Object.keys(record)) {
    const v = record[k];
    if (fields.has(k) ? v !== undefined && v !== null : containsField(v, fields)) return true;
  }
  return false;
}
