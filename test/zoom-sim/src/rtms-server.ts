import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import { type AddressInfo, type Socket } from 'node:net';
import { WebSocket, WebSocketServer, type RawData } from 'ws';

/*
 * Zoom's RTMS servers, for tests and benchmarks (docs/ZOOM-FACTS.md §6): a signaling server and a media server
 * on one loopback port. It checks the handshake signature with its own HMAC code (never the pipeline's), sends
 * keep-alives in text or binary frames and closes with 1000 when one goes unanswered, streams 20 ms L16 audio
 * frames and transcripts from a script, drops connections on request, and, unlike Zoom (which kicks the older
 * connection out), refuses a second concurrent connection for one stream so that a double connect is counted.
 */

export interface RtmsServerOptions {
  clientId: string;
  clientSecret: string;
  /** Real ms between keep-alive requests on each socket. Default 1000. */
  keepAliveIntervalMs?: number;
  /** Real ms a keep-alive may stay unanswered before the socket is closed with 1000. Default 3 × interval. */
  keepAliveTimeoutMs?: number;
  /** Frame type of keep-alive requests: text, binary, or alternating. Default `alternate`. */
  keepAliveFrames?: 'text' | 'binary' | 'alternate';
  /** Real ms between two audio frames (each holds 20 ms of audio). Default 20 (real time). */
  frameIntervalMs?: number;
  /**
   * How a bad signature is refused: `close` (what integrators report from Zoom: the socket closes with 1000, no
   * message) or `status` (a SIGNALING_HAND_SHAKE_RESP with a non-zero status_code and a reason, then 1000).
   * Default `status`.
   */
  badSignature?: 'status' | 'close';
  /** Keep every sent frame in `audioSent` (default true); benchmarks turn it off and read the counters. */
  keepSentFrames?: boolean;
}

export interface RtmsTranscriptLine {
  /** Sent right after this audio frame index. */
  atFrame: number;
  text: string;
  userName?: string;
  userId?: number;
}

export interface RtmsStreamScript {
  streamId: string;
  instanceId: string;
  instanceField?: 'meeting_uuid' | 'session_id';
  /** Audio frames to stream (20 ms, 640 bytes each); when sent, the stream ends (STREAM_STATE_UPDATE terminated). */
  audioFrames: number;
  transcripts?: RtmsTranscriptLine[];
  /** Zoom timestamp (ms) of frame 0. Default 1_700_000_000_000. */
  baseTimestamp?: number;
  /** Stop reason sent when the script ends. Default 6 (meeting ended). */
  stopReason?: number;
  /** Wait for `startStream` before the first frame (the stream clock does not run until then). */
  paused?: boolean;
}

export interface SentFrame {
  index: number;
  timestamp: number;
  connection: number;
  bytes: Buffer;
}

export interface SentTranscript {
  timestamp: number;
  text: string;
  connection: number;
}

export interface RtmsStreamStats {
  /** Signaling connections that completed the handshake for this stream. */
  connections: number;
  /** Connections refused because another one for the stream was open (a double connect). */
  refusedConcurrent: number;
  /** Largest number of simultaneously accepted signaling connections (stays 1 unless the refusal is off). */
  maxConcurrent: number;
  openNow: number;
  audioSent: SentFrame[];
  audioSentFrames: number;
  audioSentBytes: number;
  /** Frames the stream clock produced while no client was ready (lost, as with Zoom without buffering). */
  audioDropped: number;
  transcriptsSent: SentTranscript[];
  ended: boolean;
}

export interface RtmsServerStats {
  connectionsOpened: number;
  badSignatures: number;
  unknownStreams: number;
  keepAlivesSent: { text: number; binary: number };
  keepAlivesAnswered: number;
  keepAliveTimeouts: number;
  refusedConcurrent: number;
}

export interface RtmsServer {
  /** The `server_urls` to put in `rtms_started`. */
  signalingUrl: string;
  mediaUrl: string;
  addStream(script: RtmsStreamScript): void;
  startStream(streamId: string): void;
  stream(streamId: string): RtmsStreamStats;
  stats(): RtmsServerStats;
  /** Closes every socket of the stream abruptly (code 1006 at the client), as a network drop would. */
  dropConnections(streamId: string): void;
  /** Bytes written to media sockets but not yet taken by the kernel (grows when a client cannot keep up). */
  backlogBytes(): number;
  /** Ends the stream now: STREAM_STATE_UPDATE terminated with the stop reason, then close 1000. */
  endStream(streamId: string, stopReason?: number): void;
  close(): Promise<void>;
}

const FRAME_BYTES = 640; // 20 ms of 16 kHz mono L16

interface Conn {
  id: number;
  ws: WebSocket;
  kind: 'signaling' | 'media';
  stream?: StreamState;
  ready: boolean;
  pendingKeepAlive?: { timestamp: number; sentAt: number };
  keepAliveCount: number;
  timer?: NodeJS.Timeout;
}

interface StreamState {
  script: RtmsStreamScript;
  stats: RtmsStreamStats;
  signaling?: Conn;
  media?: Conn;
  nextFrame: number;
  timer?: NodeJS.Timeout;
  started: boolean;
  /** Real time the stream clock started, and frames it has produced since (sent or dropped). */
  clockStart?: number;
  produced: number;
}

export async function startRtmsServer(options: RtmsServerOptions): Promise<RtmsServer> {
  const interval = options.keepAliveIntervalMs ?? 1000;
  const timeout = options.keepAliveTimeoutMs ?? interval * 3;
  const frameInterval = options.frameIntervalMs ?? 20;
  const streams = new Map<string, StreamState>();
  const conns = new Set<Conn>();
  const sockets = new Set<Socket>();
  let nextConnId = 1;
  const stats: RtmsServerStats = {
    connectionsOpened: 0,
    badSignatures: 0,
    unknownStreams: 0,
    keepAlivesSent: { text: 0, binary: 0 },
    keepAlivesAnswered: 0,
    keepAliveTimeouts: 0,
    refusedConcurrent: 0,
  };

  const http = createServer((_req, res) => res.writeHead(426).end());
  http.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const wss = new WebSocketServer({ noServer: true });
  http.on('upgrade', (req: IncomingMessage, socket, head) => {
    const kind = req.url === '/signaling' ? 'signaling' : req.url === '/media' ? 'media' : undefined;
    if (!kind) {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, kind));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const port = (http.address() as AddressInfo).port;
  const signalingUrl = `ws://127.0.0.1:${port}/signaling`;
  const mediaUrl = `ws://127.0.0.1:${port}/media`;

  const expectedSignature = (instanceId: string, streamId: string): string =>
    createHmac('sha256', options.clientSecret).update(`${options.clientId},${instanceId},${streamId}`).digest('hex');
  const signatureOk = (given: unknown, instanceId: string, streamId: string): boolean => {
    if (typeof given !== 'string') return false;
    const a = Buffer.from(given);
    const b = Buffer.from(expectedSignature(instanceId, streamId));
    return a.length === b.length && timingSafeEqual(a, b);
  };
  const send = (c: Conn, msg: unknown, binary = false): void => {
    if (c.ws.readyState !== WebSocket.OPEN) return;
    const text = JSON.stringify(msg);
    c.ws.send(binary ? Buffer.from(text) : text, { binary });
  };

  function accept(ws: WebSocket, kind: Conn['kind']): void {
    const c: Conn = { id: nextConnId++, ws, kind, ready: false, keepAliveCount: 0 };
    conns.add(c);
    stats.connectionsOpened += 1;
    ws.on('message', (data: RawData) => onMessage(c, data as Buffer));
    ws.on('close', () => onClose(c));
    ws.on('error', () => undefined);
  }

  function startKeepAlive(c: Conn): void {
    c.timer = setInterval(() => {
      if (c.pendingKeepAlive && Date.now() - c.pendingKeepAlive.sentAt >= timeout) {
        stats.keepAliveTimeouts += 1;
        c.ws.close(1000, 'keep-alive timeout');
        return;
      }
      if (c.pendingKeepAlive) return;
      const mode = options.keepAliveFrames ?? 'alternate';
      const binary = mode === 'binary' || (mode === 'alternate' && c.keepAliveCount % 2 === 1);
      c.keepAliveCount += 1;
      const timestamp = Date.now();
      c.pendingKeepAlive = { timestamp, sentAt: timestamp };
      stats.keepAlivesSent[binary ? 'binary' : 'text'] += 1;
      send(c, { msg_type: 12, timestamp }, binary);
    }, interval);
    c.timer.unref();
  }

  function onMessage(c: Conn, data: Buffer): void {
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
    } catch {
      return;
    }
    if (m.msg_type === 13) {
      if (c.pendingKeepAlive && m.timestamp === c.pendingKeepAlive.timestamp) {
        c.pendingKeepAlive = undefined;
        stats.keepAlivesAnswered += 1;
      }
      return;
    }
    const streamId = typeof m.rtms_stream_id === 'string' ? m.rtms_stream_id : '';
    const s = streams.get(streamId);
    if (m.msg_type === 1 && c.kind === 'signaling') {
      if (!s) {
        stats.unknownStreams += 1;
        send(c, { msg_type: 2, status_code: 3, reason: 'unknown rtms_stream_id' });
        c.ws.close(1000);
        return;
      }
      const field = s.script.instanceField ?? 'meeting_uuid';
      if (!signatureOk(m.signature, String(m[field] ?? ''), streamId)) {
        stats.badSignatures += 1;
        if (options.badSignature !== 'close')
          send(c, { msg_type: 2, status_code: 1, reason: 'signature verification failed' });
        c.ws.close(1000);
        return;
      }
      if (s.stats.ended) {
        send(c, { msg_type: 2, status_code: 4, reason: 'stream ended' });
        c.ws.close(1000);
        return;
      }
      if (s.signaling) {
        s.stats.refusedConcurrent += 1;
        stats.refusedConcurrent += 1;
        send(c, { msg_type: 2, status_code: 2, reason: 'another connection for this stream is open' });
        c.ws.close(1000);
        return;
      }
      c.stream = s;
      s.signaling = c;
      s.stats.connections += 1;
      s.stats.openNow += 1;
      s.stats.maxConcurrent = Math.max(s.stats.maxConcurrent, s.stats.openNow);
      send(c, {
        msg_type: 2,
        status_code: 0,
        media_server: { server_urls: { all: mediaUrl, audio: mediaUrl, transcript: mediaUrl } },
      });
      startKeepAlive(c);
      return;
    }
    if (m.msg_type === 3 && c.kind === 'media') {
      const field = s?.script.instanceField ?? 'meeting_uuid';
      if (!s || !signatureOk(m.signature, String(m[field] ?? ''), streamId) || s.signaling === undefined) {
        if (s) stats.badSignatures += 1;
        send(c, { msg_type: 4, status_code: 1, reason: 'media handshake refused' });
        c.ws.close(1000);
        return;
      }
      if (s.media) s.media.ws.close(1000, 'replaced');
      c.stream = s;
      s.media = c;
      send(c, { msg_type: 4, status_code: 0 });
      startKeepAlive(c);
      return;
    }
    if (m.msg_type === 7 && c.kind === 'signaling' && c.stream) {
      const st = c.stream;
      if (st.media) st.media.ready = true;
      c.ready = true;
      if (!st.script.paused || st.started) startClock(st);
    }
  }

  function onClose(c: Conn): void {
    conns.delete(c);
    if (c.timer) clearInterval(c.timer);
    const s = c.stream;
    if (!s) return;
    if (s.signaling === c) {
      s.signaling = undefined;
      s.stats.openNow -= 1;
      // Zoom ties the media socket to its signaling socket.
      s.media?.ws.close(1000);
    }
    if (s.media === c) s.media = undefined;
  }

  function startClock(s: StreamState): void {
    s.started = true;
    if (s.timer || s.stats.ended) return;
    s.clockStart = Date.now();
    s.produced = 0;
    // Paced by the wall clock: a late timer (a busy machine) sends the frames that are due, as Zoom's clock does not
    // wait.
    s.timer = setInterval(() => {
      const due = Math.floor((Date.now() - s.clockStart!) / frameInterval) + 1;
      for (let n = 0; n < 50 && s.produced < due && !s.stats.ended; n++, s.produced++) tick(s);
    }, frameInterval);
  }

  function tick(s: StreamState): void {
    const i = s.nextFrame;
    if (i >= s.script.audioFrames) {
      endStream(s.script.streamId, s.script.stopReason ?? 6);
      return;
    }
    s.nextFrame += 1;
    const timestamp = (s.script.baseTimestamp ?? 1_700_000_000_000) + i * 20;
    const bytes = frameBytes(s.script.streamId, i);
    const media = s.media && s.media.ready ? s.media : undefined;
    if (!media) {
      s.stats.audioDropped += 1;
    } else {
      send(media, { msg_type: 14, content: { user_id: 0, user_name: '', data: bytes.toString('base64'), timestamp } });
      s.stats.audioSentFrames += 1;
      s.stats.audioSentBytes += bytes.length;
      if (options.keepSentFrames !== false)
        s.stats.audioSent.push({ index: i, timestamp, connection: media.id, bytes });
      for (const t of s.script.transcripts ?? []) {
        if (t.atFrame !== i) continue;
        send(media, {
          msg_type: 17,
          content: { user_id: t.userId ?? 16778240, user_name: t.userName ?? 'Speaker', data: t.text, timestamp },
        });
        s.stats.transcriptsSent.push({ timestamp, text: t.text, connection: media.id });
      }
    }
  }

  function endStream(streamId: string, stopReason = 6): void {
    const s = streams.get(streamId);
    if (!s || s.stats.ended) return;
    s.stats.ended = true;
    if (s.timer) clearInterval(s.timer);
    if (s.signaling) {
      send(s.signaling, { msg_type: 8, state: 4, stop_reason: stopReason });
      s.signaling.ws.close(1000);
    }
    s.media?.ws.close(1000);
  }

  return {
    signalingUrl,
    mediaUrl,
    addStream(script) {
      streams.set(script.streamId, {
        script,
        nextFrame: 0,
        started: false,
        produced: 0,
        stats: {
          connections: 0,
          refusedConcurrent: 0,
          maxConcurrent: 0,
          openNow: 0,
          audioSent: [],
          audioSentFrames: 0,
          audioSentBytes: 0,
          audioDropped: 0,
          transcriptsSent: [],
          ended: false,
        },
      });
    },
    startStream(streamId) {
      const s = streams.get(streamId);
      if (!s) throw new Error(`unknown stream ${streamId}`);
      s.started = true;
      if (s.signaling?.ready) startClock(s);
    },
    stream(streamId) {
      const s = streams.get(streamId);
      if (!s) throw new Error(`unknown stream ${streamId}`);
      return s.stats;
    },
    stats: () => stats,
    backlogBytes() {
      let n = 0;
      for (const c of conns) if (c.kind === 'media') n += c.ws.bufferedAmount;
      return n;
    },
    dropConnections(streamId) {
      const s = streams.get(streamId);
      s?.signaling?.ws.terminate();
      s?.media?.ws.terminate();
    },
    endStream,
    async close() {
      for (const s of streams.values()) if (s.timer) clearInterval(s.timer);
      for (const c of conns) {
        if (c.timer) clearInterval(c.timer);
        c.ws.terminate();
      }
      for (const s of sockets) s.destroy();
      wss.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/** The sim's audio: 640 deterministic bytes per frame, different for every stream and frame index. */
export function frameBytes(streamId: string, index: number): Buffer {
  const b = Buffer.alloc(FRAME_BYTES);
  let x = (index + 1) * 2654435761 + streamId.length;
  for (let i = 0; i < streamId.length; i++) x = (x * 31 + streamId.charCodeAt(i)) >>> 0;
  for (let i = 0; i < FRAME_BYTES; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}
