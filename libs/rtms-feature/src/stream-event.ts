import { type CanonicalEvent } from '@zoom-pipeline/contracts';
import { stopReasonName } from '@zoom-pipeline/rtms';

/** One RTMS stream as an `*.rtms_started` announces it (docs/ZOOM-FACTS.md §4.5). */
export interface RtmsStreamInfo {
  product: 'meeting' | 'webinar' | 'session';
  streamId: string;
  /** Meeting or webinar UUID, or Video SDK session id. */
  instanceId: string;
  /** Meetings and webinars name the instance `meeting_uuid` in the handshake, Video SDK sessions `session_id`. */
  handshakeField: 'meeting_uuid' | 'session_id';
  serverUrls: string;
  accountId?: string;
  /** Epoch ms of the event (its CloudEvent time). */
  startedAt: number;
}

export type RtmsLifecycle =
  { kind: 'started'; info: RtmsStreamInfo } | { kind: 'stopped'; streamId: string; stopReason: string };

const EVENT = /^us\.zoom\.(meeting|webinar|session)\.rtms_(started|stopped)$/;

/** The RTMS meaning of a canonical event, or undefined for every other event (and RTMS events missing their ids). */
export function rtmsLifecycle(event: CanonicalEvent): RtmsLifecycle | undefined {
  const m = EVENT.exec(event.type);
  if (!m) return undefined;
  const product = m[1] as RtmsStreamInfo['product'];
  const payload = record(event.data.payload);
  if (!payload) return undefined;
  const object = record(payload.object);
  const field = (name: string): string | undefined => text(payload[name]) ?? text(object?.[name]);
  const streamId = field('rtms_stream_id');
  if (!streamId) return undefined;
  if (m[2] === 'stopped')
    return { kind: 'stopped', streamId, stopReason: stopReasonName(payload.stop_reason ?? object?.stop_reason) };
  const instanceId = product === 'session' ? field('session_id') : (field('meeting_uuid') ?? field('webinar_uuid'));
  const serverUrls = field('server_urls');
  if (!instanceId || !serverUrls) return undefined;
  const accountId = field('account_id');
  const time = Date.parse(event.time);
  return {
    kind: 'started',
    info: {
      product,
      streamId,
      instanceId,
      handshakeField: product === 'session' ? 'session_id' : 'meeting_uuid',
      serverUrls,
      ...(accountId ? { accountId } : {}),
      startedAt: Number.isFinite(time) ? time : 0,
    },
  };
}

function record(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}
