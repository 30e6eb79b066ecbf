import { ContractViolation, asObject, encodeJson, num, optStr, parseJson, str } from './validate';

/**
 * Value of `zoom.events`: one canonical event per real occurrence, as CloudEvents 1.0 JSON
 * (structured mode). Extension attribute names follow the CloudEvents naming rule (lowercase a-z0-9).
 */
export interface CanonicalEvent {
  specversion: '1.0';
  /** Digest of the canonical key (SPEC §6): the same for every copy and retry of one occurrence. */
  id: string;
  /** `zoom-pipeline/<app>` */
  source: string;
  /** `us.zoom.<event>` */
  type: string;
  /** Meeting instance UUID when the event has one, else the account id. */
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  /**
   * The Zoom body of the delivery that became canonical, with the members named in EVENTS_REDACT_FIELDS
   * (default download_token, password, recording_play_passcode) replaced by "[redacted]" at any depth.
   */
  data: Record<string, unknown>;
  /** How many deliveries of this occurrence the dedup had seen when it emitted (1 for the first). */
  deliverycount: number;
  /** Id of the raw delivery that became canonical. */
  zoomdeliveryid: string;
  zoomapp: string;
  /** Comma-separated member names redacted in `data` (absent when none were). */
  zoomredacted?: string;
  /** The app user linked to the event's Zoom user (host) or account (accounts feature); absent when none is. */
  appuserid?: string;
}

const C = 'CanonicalEvent';

export function encodeCanonicalEvent(event: CanonicalEvent): Buffer {
  return encodeJson(event);
}

export function decodeCanonicalEvent(bytes: Buffer | string): CanonicalEvent {
  const o = asObject(C, '(value)', parseJson(C, bytes));
  if (o.specversion !== '1.0') throw new ContractViolation(C, 'specversion', 'must be "1.0"');
  if (o.datacontenttype !== 'application/json')
    throw new ContractViolation(C, 'datacontenttype', 'must be application/json');
  return {
    specversion: '1.0',
    id: str(C, o, 'id'),
    source: str(C, o, 'source'),
    type: str(C, o, 'type'),
    subject: str(C, o, 'subject'),
    time: str(C, o, 'time'),
    datacontenttype: 'application/json',
    data: asObject(C, 'data', o.data),
    deliverycount: num(C, o, 'deliverycount'),
    zoomdeliveryid: str(C, o, 'zoomdeliveryid'),
    zoomapp: optStr(C, o, 'zoomapp') ?? 'default',
    ...(typeof o.zoomredacted === 'string' ? { zoomredacted: o.zoomredacted } : {}),
    ...(typeof o.appuserid === 'string' ? { appuserid: o.appuserid } : {}),
  };
}

/** Value of `zoom.webhooks.duplicates`: a suppressed delivery and the canonical event it repeats. */
export interface DuplicateDelivery {
  v: 1;
  canonicalId: string;
  deliveryId: string;
  event: string;
  receivedAt: string;
  /** Why it was suppressed: a copy inside the dedup window. */
  reason: 'duplicate_within_window';
}

export function encodeDuplicateDelivery(d: DuplicateDelivery): Buffer {
  return encodeJson(d);
}

export function decodeDuplicateDelivery(bytes: Buffer | string): DuplicateDelivery {
  const C2 = 'DuplicateDelivery';
  const o = asObject(C2, '(value)', parseJson(C2, bytes));
  return {
    v: 1,
    canonicalId: str(C2, o, 'canonicalId'),
    deliveryId: str(C2, o, 'deliveryId'),
    event: str(C2, o, 'event'),
    receivedAt: str(C2, o, 'receivedAt'),
    reason: 'duplicate_within_window',
  };
}
