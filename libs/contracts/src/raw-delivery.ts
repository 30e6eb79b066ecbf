import { ContractViolation, asObject, optStr, parseJson, str } from './validate';

/** Value of `zoom.webhooks.raw`: one verified delivery exactly as it arrived (SPEC §5). */
export interface RawDelivery {
  v: 1;
  /** Our id for this delivery (UUID v4), unique per HTTP request. */
  id: string;
  /** ISO 8601 time the ingress received it. */
  receivedAt: string;
  /** Zoom app name from `/webhooks/zoom/:app`, `default` for `/webhooks/zoom`. */
  app: string;
  sourceIp: string;
  /** The Zoom event name from the verified body. */
  event: string;
  headers: {
    timestamp: string;
    trackingId?: string;
    requestId?: string;
    traceparent?: string;
    tracestate?: string;
  };
  /** The raw body, byte for byte (UTF-8 JSON as Zoom sent it); the signature was checked over it. */
  body: string;
}

const C = 'RawDelivery';

export function encodeRawDelivery(d: RawDelivery): Buffer {
  return Buffer.from(JSON.stringify(d), 'utf8');
}

export function decodeRawDelivery(bytes: Buffer | string): RawDelivery {
  const o = asObject(C, '(value)', parseJson(C, bytes));
  if (o.v !== 1) throw new ContractViolation(C, 'v', 'must be 1');
  const h = asObject(C, 'headers', o.headers);
  return {
    v: 1,
    id: str(C, o, 'id'),
    receivedAt: str(C, o, 'receivedAt'),
    app: str(C, o, 'app'),
    sourceIp: str(C, o, 'sourceIp'),
    event: str(C, o, 'event'),
    headers: {
      timestamp: str(C, h, 'timestamp'),
      trackingId: optStr(C, h, 'trackingId'),
      requestId: optStr(C, h, 'requestId'),
      traceparent: optStr(C, h, 'traceparent'),
      tracestate: optStr(C, h, 'tracestate'),
    },
    body: str(C, o, 'body'),
  };
}
