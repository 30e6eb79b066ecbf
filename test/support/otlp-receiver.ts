import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export type OtlpAttributeValue = string | number | boolean | null | OtlpAttributeValue[];

export interface CollectedSpan {
  traceId: string;
  spanId: string;
  /** Empty for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP SpanKind number: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  attributes: Record<string, OtlpAttributeValue>;
  /** `service.name` of the resource that sent the span. */
  service: string;
  status?: { code?: number; message?: string };
}

export interface OtlpReceiver {
  /** `http://127.0.0.1:<port>`: the value for OTEL_EXPORTER_OTLP_ENDPOINT (the exporter appends /v1/traces). */
  url: string;
  spans(): CollectedSpan[];
  /** Every request body received, as text (to search for leaked secrets). */
  rawBodies(): string[];
  close(): Promise<void>;
}

interface OtlpAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  doubleValue?: number;
  arrayValue?: { values?: OtlpAnyValue[] };
}

interface OtlpKeyValue {
  key: string;
  value?: OtlpAnyValue;
}

function value(v: OtlpAnyValue | undefined): OtlpAttributeValue {
  if (!v) return null;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(value);
  return null;
}

function attributes(list: OtlpKeyValue[] | undefined): Record<string, OtlpAttributeValue> {
  const out: Record<string, OtlpAttributeValue> = {};
  for (const kv of list ?? []) out[kv.key] = value(kv.value);
  return out;
}

/** OTLP/JSON ids are hex in the JS exporter; the spec's protobuf-JSON mapping would be base64. Accept both. */
function hexId(id: string | undefined, bytes: number): string {
  if (!id) return '';
  if (new RegExp(`^[0-9a-f]{${bytes * 2}}$`, 'i').test(id)) return id.toLowerCase();
  const b = Buffer.from(id, 'base64');
  return b.length === bytes ? b.toString('hex') : id;
}

/**
 * A minimal OTLP/HTTP trace collector for tests: `POST /v1/traces` with JSON bodies
 * (`OTEL_EXPORTER_OTLP_PROTOCOL=http/json`), answers 200 `{}`, keeps every span.
 */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: CollectedSpan[] = [];
  const bodies: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      if (req.method !== 'POST' || req.url?.split('?')[0] !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      if (!String(req.headers['content-type'] ?? '').includes('json')) {
        res.writeHead(415, { 'content-type': 'text/plain' }).end('this test receiver takes OTLP/JSON only');
        return;
      }
      const text = body.toString('utf8');
      bodies.push(text);
      try {
        const doc = JSON.parse(text) as {
          resourceSpans?: Array<{
            resource?: { attributes?: OtlpKeyValue[] };
            scopeSpans?: Array<{
              spans?: Array<{
                traceId?: string;
                spanId?: string;
                parentSpanId?: string;
                name?: string;
                kind?: number;
                attributes?: OtlpKeyValue[];
                status?: { code?: number; message?: string };
              }>;
            }>;
          }>;
        };
        for (const rs of doc.resourceSpans ?? []) {
          const service = String(attributes(rs.resource?.attributes)['service.name'] ?? '');
          for (const ss of rs.scopeSpans ?? []) {
            for (const s of ss.spans ?? []) {
              spans.push({
                traceId: hexId(s.traceId, 16),
                spanId: hexId(s.spanId, 8),
                parentSpanId: hexId(s.parentSpanId, 8),
                name: s.name ?? '',
                kind: s.kind ?? 0,
                attributes: attributes(s.attributes),
                service,
                status: s.status,
              });
            }
          }
        }
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans: () => [...spans],
    rawBodies: () => [...bodies],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
