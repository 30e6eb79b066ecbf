import { randomInt } from 'node:crypto';
import {
  type MediaFrame,
  type MediaName,
  type StreamIdentity,
  clientReadyAck,
  dataHandshake,
  handshakeSignature,
  keepAliveResponse,
  parseMessage,
  signalingHandshake,
  signalingUrls,
} from '@zoom-pipeline/rtms';
import { type RawData, WebSocket } from 'ws';
import { type RtmsStreamInfo } from './stream-event';

export type SocketName = 'signaling' | 'media';

/** How long media is still read after Zoom ended the stream on the signaling socket. */
const MEDIA_DRAIN_MS = 2_000;

/** How a session ended. Only `dropped` is worth a reconnect; `refused` never is (the same handshake fails again). */
export type SessionEnd =
  | { kind: 'ended'; stopReason?: string }
  | { kind: 'refused'; stage: SocketName; statusCode: number; reason?: string }
  | { kind: 'dropped'; socket: SocketName; code: number; ready: boolean }
  | { kind: 'closed' };

export interface SessionHandlers {
  onReady(): void;
  onMedia(frame: MediaFrame): void;
  onKeepAlive(socket: SocketName, binary: boolean, answerSeconds: number): void;
}

export interface SessionOptions {
  clientId: string;
  clientSecret: string;
  media: readonly MediaName[];
  /** A handshake that gets no answer within this is a dropped connection. Default 10 s. */
  handshakeTimeoutMs?: number;
}

/**
 * One attempt at streaming: the signaling socket, then the media socket, until either closes or Zoom ends the
 * stream. Every message is parsed whatever its frame type, so keep-alives in binary frames are answered too.
 * The client secret only ever goes into the HMAC.
 */
export class RtmsSession {
  readonly done: Promise<SessionEnd>;
  private resolveDone!: (end: SessionEnd) => void;
  private finished = false;
  private signaling?: WebSocket;
  private media?: WebSocket;
  private ready = false;
  private handshakeTimer?: NodeJS.Timeout;
  private readonly id: StreamIdentity;
  private readonly signature: string;

  constructor(
    private readonly info: RtmsStreamInfo,
    private readonly options: SessionOptions,
    private readonly handlers: SessionHandlers,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.id = { instanceId: info.instanceId, instanceField: info.handshakeField, streamId: info.streamId };
    this.signature = handshakeSignature(options.clientId, options.clientSecret, info.instanceId, info.streamId);
  }

  start(): void {
    const url = signalingUrls(this.info.serverUrls)[0];
    if (!url) {
      this.finish({
        kind: 'refused',
        stage: 'signaling',
        statusCode: -1,
        reason: 'server_urls has no ws:// or wss:// URL',
      });
      return;
    }
    this.armHandshakeTimer('signaling');
    const ws = (this.signaling = new WebSocket(url, { handshakeTimeout: this.options.handshakeTimeoutMs ?? 10_000 }));
    ws.on('open', () => this.send(ws, signalingHandshake(this.id, this.signature, randomInt(1, 2 ** 31))));
    ws.on('message', (data: RawData, isBinary: boolean) => this.onSignaling(ws, toBuffer(data), isBinary));
    ws.on('close', (code: number) => this.finish({ kind: 'dropped', socket: 'signaling', code, ready: this.ready }));
    ws.on('error', () => undefined); // 'close' follows and decides
  }

  /** Closes both sockets (1000); `done` resolves as `closed` unless the session had already ended. */
  close(): void {
    this.finish({ kind: 'closed' });
  }

  /** A crash for tests: drop the sockets without a close handshake. */
  terminate(): void {
    this.finish({ kind: 'closed' }, true);
  }

  private onSignaling(ws: WebSocket, data: Buffer, isBinary: boolean): void {
    const m = parseMessage(data);
    switch (m.kind) {
      case 'keep_alive':
        this.answerKeepAlive(ws, 'signaling', m.timestamp, isBinary);
        return;
      case 'signaling_handshake': {
        if (!m.ok) {
          this.finish({ kind: 'refused', stage: 'signaling', statusCode: m.statusCode, reason: m.reason });
          return;
        }
        const url = m.mediaUrls.all ?? m.mediaUrls.audio ?? m.mediaUrls.transcript ?? Object.values(m.mediaUrls)[0];
        if (!url) {
          this.finish({
            kind: 'refused',
            stage: 'signaling',
            statusCode: m.statusCode,
            reason: 'no media server URL in the handshake answer',
          });
          return;
        }
        this.openMedia(url);
        return;
      }
      case 'stream_state':
        if (m.ended) this.endAfterMedia({ kind: 'ended', stopReason: m.stopReason });
        return;
      case 'session_state':
      case 'data_handshake':
      case 'media':
      case 'other':
      case 'invalid':
        return;
    }
  }

  private openMedia(url: string): void {
    this.armHandshakeTimer('media');
    const ws = (this.media = new WebSocket(url, { handshakeTimeout: this.options.handshakeTimeoutMs ?? 10_000 }));
    ws.on('open', () => this.send(ws, dataHandshake(this.id, this.signature, this.options.media)));
    ws.on('message', (data: RawData, isBinary: boolean) => this.onMedia(ws, toBuffer(data), isBinary));
    ws.on('close', (code: number) => this.finish({ kind: 'dropped', socket: 'media', code, ready: this.ready }));
    ws.on('error', () => undefined);
  }

  private onMedia(ws: WebSocket, data: Buffer, isBinary: boolean): void {
    const m = parseMessage(data);
    switch (m.kind) {
      case 'keep_alive':
        this.answerKeepAlive(ws, 'media', m.timestamp, isBinary);
        return;
      case 'data_handshake':
        if (!m.ok) {
          this.finish({ kind: 'refused', stage: 'media', statusCode: m.statusCode, reason: m.reason });
          return;
        }
        clearTimeout(this.handshakeTimer);
        // Zoom starts sending media once the client says ready, on the signaling socket.
        if (this.signaling) this.send(this.signaling, clientReadyAck(this.info.streamId));
        this.ready = true;
        this.handlers.onReady();
        return;
      case 'media':
        this.handlers.onMedia(m.frame);
        return;
      case 'stream_state':
        if (m.ended) this.finish({ kind: 'ended', stopReason: m.stopReason });
        return;
      case 'signaling_handshake':
      case 'session_state':
      case 'other':
      case 'invalid':
        return;
    }
  }

  private answerKeepAlive(ws: WebSocket, socket: SocketName, timestamp: unknown, binary: boolean): void {
    const at = process.hrtime.bigint();
    // Answered in the frame type it came in; Zoom reads both.
    const text = JSON.stringify(keepAliveResponse(timestamp));
    ws.send(binary ? Buffer.from(text) : text, { binary }, () => {
      this.handlers.onKeepAlive(socket, binary, Number(process.hrtime.bigint() - at) / 1e9);
    });
  }

  /**
   * Zoom says the stream is over on the signaling socket; media sent before that may still be in the media socket.
   * Keep reading it until the server closes it (bounded), then finish.
   */
  private endAfterMedia(end: SessionEnd): void {
    const media = this.media;
    if (!media || media.readyState !== WebSocket.OPEN || this.finished) {
      this.finish(end);
      return;
    }
    this.signaling?.removeAllListeners('close');
    media.removeAllListeners('close');
    media.once('close', () => this.finish(end));
    setTimeout(() => this.finish(end), MEDIA_DRAIN_MS).unref();
  }

  private armHandshakeTimer(socket: SocketName): void {
    clearTimeout(this.handshakeTimer);
    this.handshakeTimer = setTimeout(
      () => this.finish({ kind: 'dropped', socket, code: 0, ready: false }),
      this.options.handshakeTimeoutMs ?? 10_000,
    );
    this.handshakeTimer.unref();
  }

  private send(ws: WebSocket, msg: unknown): void {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
  }

  private finish(end: SessionEnd, abrupt = false): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.handshakeTimer);
    for (const ws of [this.media, this.signaling]) {
      if (!ws) continue;
      ws.removeAllListeners('message');
      ws.removeAllListeners('close');
      ws.on('error', () => undefined);
      if (abrupt) ws.terminate();
      else if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000);
    }
    this.resolveDone(end);
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
