import { createHmac } from 'node:crypto';

/**
 * Zoom RTMS wire protocol (docs/ZOOM-FACTS.md §6): JSON messages over WebSocket, told apart by `msg_type`.
 * Pure: builders and parsers over plain data, no sockets, no clock reads.
 */
export const MSG = {
  SIGNALING_HAND_SHAKE_REQ: 1,
  SIGNALING_HAND_SHAKE_RESP: 2,
  DATA_HAND_SHAKE_REQ: 3,
  DATA_HAND_SHAKE_RESP: 4,
  EVENT_SUBSCRIPTION: 5,
  EVENT_UPDATE: 6,
  CLIENT_READY_ACK: 7,
  STREAM_STATE_UPDATE: 8,
  SESSION_STATE_UPDATE: 9,
  KEEP_ALIVE_REQ: 12,
  KEEP_ALIVE_RESP: 13,
  MEDIA_DATA_AUDIO: 14,
  MEDIA_DATA_VIDEO: 15,
  MEDIA_DATA_SHARE: 16,
  MEDIA_DATA_TRANSCRIPT: 17,
  MEDIA_DATA_CHAT: 18,
  STREAM_STATE_REQ: 19,
  STREAM_STATE_RESP: 20,
  STREAM_CLOSE_REQ: 21,
  STREAM_CLOSE_RESP: 22,
} as const;

/** `media_type` bitmask of the data handshake (zoom/rtms `MEDIA_DATA_TYPE`). */
export const MEDIA_BIT = { audio: 1, video: 2, share: 4, transcript: 8, chat: 16, all: 32 } as const;
export type MediaName = Exclude<keyof typeof MEDIA_BIT, 'all'>;
export const MEDIA_NAMES: readonly MediaName[] = ['audio', 'video', 'share', 'transcript', 'chat'];

/** `STREAM_STATE` of STREAM_STATE_UPDATE (zoom/rtms). */
export const STREAM_STATE = {
  INACTIVE: 0,
  ACTIVE: 1,
  INTERRUPTED: 2,
  TERMINATING: 3,
  TERMINATED: 4,
  PAUSED: 5,
  RESUMED: 6,
} as const;

/** `STOP_REASON` numbering of zoom/rtms `src/rtms.h`; names go into logs and metrics, never numbers alone. */
export const STOP_REASONS: readonly string[] = [
  'undefined',
  'host_triggered',
  'user_triggered',
  'user_left',
  'user_ejected',
  'host_disabled_app',
  'meeting_ended',
  'stream_canceled',
  'stream_revoked',
  'all_apps_disabled',
  'internal_exception',
  'connection_timeout',
  'instance_connection_interrupted',
  'signal_connection_interrupted',
  'data_connection_interrupted',
  'signal_connection_closed_abnormally',
  'data_connection_closed_abnormally',
  'exit_signal',
  'authentication_failure',
  'await_reconnection_timeout',
  'receiver_request_close',
  'customer_disconnected',
  'agent_disconnected',
  'admin_disabled_app',
  'keep_alive_timeout',
  'manual_api_triggered',
  'streaming_not_supported',
];

export function stopReasonName(code: unknown): string {
  return typeof code === 'number' && Number.isInteger(code) && code >= 0 && code < STOP_REASONS.length
    ? STOP_REASONS[code]!
    : `unknown_${String(code)}`;
}

/** What identifies one stream: meetings and webinars send `meeting_uuid`, Video SDK sessions `session_id`. */
export interface StreamIdentity {
  /** The instance id as Zoom names it in the handshake: a meeting/webinar UUID or a Video SDK session id. */
  instanceId: string;
  /** Which member carries it in the handshake messages. */
  instanceField: 'meeting_uuid' | 'session_id';
  streamId: string;
}

/**
 * hex(HMAC-SHA256(client secret, "client_id,instance_id,rtms_stream_id")): the same signature for signaling and media.
 */
export function handshakeSignature(
  clientId: string,
  clientSecret: string,
  instanceId: string,
  streamId: string,
): string {
  return createHmac('sha256', clientSecret).update(`${clientId},${instanceId},${streamId}`).digest('hex');
}

export function mediaMask(media: readonly MediaName[]): number {
  return media.reduce((mask, m) => mask | MEDIA_BIT[m], 0);
}

export function signalingHandshake(id: StreamIdentity, signature: string, sequence: number): Record<string, unknown> {
  return {
    msg_type: MSG.SIGNALING_HAND_SHAKE_REQ,
    protocol_version: 1,
    [id.instanceField]: id.instanceId,
    rtms_stream_id: id.streamId,
    sequence,
    signature,
  };
}

/**
 * Audio parameters: L16 PCM, 16 kHz, mono, mixed stream (zoom/rtms enums: codec L16=1, SR_16K=1, MONO=1,
 * AUDIO_MIXED_STREAM=1).
 */
export const AUDIO_FORMAT = { sampleRate: 16_000, channels: 1, bitsPerSample: 16 } as const;

export function dataHandshake(
  id: StreamIdentity,
  signature: string,
  media: readonly MediaName[],
): Record<string, unknown> {
  return {
    msg_type: MSG.DATA_HAND_SHAKE_REQ,
    protocol_version: 1,
    [id.instanceField]: id.instanceId,
    rtms_stream_id: id.streamId,
    signature,
    media_type: mediaMask(media),
    payload_encryption: false,
    media_params: {
      ...(media.includes('audio')
        ? { audio: { content_type: 2, sample_rate: 1, channel: 1, codec: 1, data_opt: 1, send_rate: 20 } }
        : {}),
      ...(media.includes('transcript') ? { transcript: { content_type: 5 } } : {}),
    },
  };
}

export function clientReadyAck(streamId: string): Record<string, unknown> {
  return { msg_type: MSG.CLIENT_READY_ACK, rtms_stream_id: streamId };
}

/** The answer to KEEP_ALIVE_REQ echoes its timestamp. */
export function keepAliveResponse(timestamp: unknown): Record<string, unknown> {
  return { msg_type: MSG.KEEP_ALIVE_RESP, timestamp };
}

export interface MediaFrame {
  media: 'audio' | 'video' | 'share' | 'transcript' | 'chat';
  userId?: string;
  userName?: string;
  /** Zoom's timestamp of the frame (ms). */
  timestamp?: number;
  /** audio/video/share: the decoded bytes; transcript/chat: the UTF-8 text. */
  data: Buffer;
  text?: string;
}

/** A received message, classified. Unknown `msg_type`s are kept as `other` (newer protocol versions add some). */
export type RtmsMessage =
  | { kind: 'keep_alive'; timestamp: unknown }
  | { kind: 'signaling_handshake'; ok: boolean; statusCode: number; reason?: string; mediaUrls: Record<string, string> }
  | { kind: 'data_handshake'; ok: boolean; statusCode: number; reason?: string }
  | { kind: 'stream_state'; state: number; stopReason?: string; ended: boolean }
  | { kind: 'session_state'; state: number; stopReason?: string }
  | { kind: 'media'; frame: MediaFrame }
  | { kind: 'other'; msgType: number }
  | { kind: 'invalid'; why: string };

const MEDIA_OF_TYPE: Record<number, MediaFrame['media']> = {
  [MSG.MEDIA_DATA_AUDIO]: 'audio',
  [MSG.MEDIA_DATA_VIDEO]: 'video',
  [MSG.MEDIA_DATA_SHARE]: 'share',
  [MSG.MEDIA_DATA_TRANSCRIPT]: 'transcript',
  [MSG.MEDIA_DATA_CHAT]: 'chat',
};

/**
 * Parses one WebSocket message, text or binary frame alike: Zoom's control messages (keep-alives included) can
 * arrive in binary frames, and a client that only looks at text frames misses them and is closed with 1000.
 */
export function parseMessage(data: Buffer | string): RtmsMessage {
  const text = typeof data === 'string' ? data : data.toString('utf8');
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return { kind: 'invalid', why: 'not JSON' };
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return { kind: 'invalid', why: 'not a JSON object' };
  const m = o as Record<string, unknown>;
  const type = m.msg_type;
  if (typeof type !== 'number') return { kind: 'invalid', why: 'no numeric msg_type' };
  const statusCode = typeof m.status_code === 'number' ? m.status_code : -1;
  const reason = typeof m.reason === 'string' ? m.reason : undefined;
  switch (type) {
    case MSG.KEEP_ALIVE_REQ:
      return { kind: 'keep_alive', timestamp: m.timestamp };
    case MSG.SIGNALING_HAND_SHAKE_RESP: {
      const urls = asRecord(asRecord(m.media_server)?.server_urls) ?? {};
      const mediaUrls: Record<string, string> = {};
      for (const [k, v] of Object.entries(urls)) if (typeof v === 'string' && v.length > 0) mediaUrls[k] = v;
      return { kind: 'signaling_handshake', ok: statusCode === 0, statusCode, reason, mediaUrls };
    }
    case MSG.DATA_HAND_SHAKE_RESP:
      return { kind: 'data_handshake', ok: statusCode === 0, statusCode, reason };
    case MSG.STREAM_STATE_UPDATE: {
      const state = typeof m.state === 'number' ? m.state : -1;
      const stopReason = m.stop_reason === undefined ? undefined : stopReasonName(m.stop_reason);
      return {
        kind: 'stream_state',
        state,
        stopReason,
        ended: state === STREAM_STATE.TERMINATED || state === STREAM_STATE.TERMINATING,
      };
    }
    case MSG.SESSION_STATE_UPDATE:
      return {
        kind: 'session_state',
        state: typeof m.state === 'number' ? m.state : -1,
        stopReason: m.stop_reason === undefined ? undefined : stopReasonName(m.stop_reason),
      };
    default: {
      const media = MEDIA_OF_TYPE[type];
      if (media === undefined) return { kind: 'other', msgType: type };
      const content = asRecord(m.content);
      if (!content || typeof content.data !== 'string')
        return { kind: 'invalid', why: `${media} message without content.data` };
      const isText = media === 'transcript' || media === 'chat';
      const frame: MediaFrame = {
        media,
        data: isText ? Buffer.from(content.data, 'utf8') : Buffer.from(content.data, 'base64'),
        ...(isText ? { text: content.data } : {}),
        ...(typeof content.user_id === 'string' || typeof content.user_id === 'number'
          ? { userId: String(content.user_id) }
          : {}),
        ...(typeof content.user_name === 'string' ? { userName: content.user_name } : {}),
        ...(typeof content.timestamp === 'number' ? { timestamp: content.timestamp } : {}),
      };
      return { kind: 'media', frame };
    }
  }
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** `server_urls` may be a comma-separated list; the first usable ws(s) URL is the signaling server. */
export function signalingUrls(serverUrls: string): string[] {
  return serverUrls
    .split(',')
    .map((s) => s.trim())
    .filter((s) => /^wss?:\/\//i.test(s));
}

/** Parses `RTMS_MEDIA` (`audio,transcript`): the media names, or why not. Video and share are not stored yet. */
export function parseMediaList(text: string): MediaName[] | { error: string } {
  const names = text
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s.length > 0);
  if (names.length === 0) return { error: 'must name at least one of audio, transcript, chat' };
  for (const n of names) {
    if (!['audio', 'transcript', 'chat'].includes(n)) return { error: 'each entry must be audio, transcript or chat' };
  }
  return [...new Set(names)] as MediaName[];
}
