import { type RtmsSettings } from '@zoom-pipeline/config';
import { type DedupStore, type FencedLease } from '@zoom-pipeline/dedup-store';
import { type EventBus } from '@zoom-pipeline/event-bus';
import { type ObjectStore } from '@zoom-pipeline/object-store';
import { type Logger, SpanKind, tracer } from '@zoom-pipeline/telemetry';
import { MediaSink } from './media-sink';
import { type RtmsMetrics } from './rtms.metrics';
import { RtmsSession, type SessionEnd } from './rtms-session';
import { type RtmsStreamInfo } from './stream-event';

export interface RtmsConnectorDeps {
  settings: RtmsSettings;
  store: DedupStore;
  objects: ObjectStore;
  bus: EventBus;
  metrics: RtmsMetrics;
  logger: Logger;
  now?: () => number;
}

/** Name of a stream's lease in the dedup store: one holder per `rtms_stream_id` across all pods. */
export const rtmsLeaseName = (streamId: string): string => `rtms:${streamId}`;
/** A stream that is over (stopped, ended by Zoom, or refused): no pod connects to it again. */
const tombstoneKey = (streamId: string): string => `rtms-ended:${streamId}`;

/** Handshakes that close without an answer, in a row, before the stream is given up like a refusal. */
const MAX_UNANSWERED_HANDSHAKES = 5;
const RECONNECT_MIN_MS = 500;

interface Tracked {
  info: RtmsStreamInfo;
  lease?: FencedLease;
  /** Local deadline of the lease: past it, this process no longer counts as the holder even if Redis said so. */
  leaseUntil: number;
  session?: RtmsSession;
  sink?: MediaSink;
  /** Another pod held the lease when this one tried: taking it later is a takeover. */
  heldElsewhere: boolean;
  failures: number;
  unanswered: number;
  nextAttemptAt: number;
  done: boolean;
}

/**
 * Exactly one live connection per RTMS stream across pods. Every pod learns of every stream (rtms.consumer.ts);
 * whoever takes the stream's fenced lease connects, renews it a few times per TTL while streaming, and hands it
 * back when the stream ends. A pod that dies stops renewing, and another takes the lease within one TTL and
 * connects. A refused handshake is final: logged with Zoom's reason, a tombstone written, no retry.
 */
export class RtmsConnector {
  private readonly streams = new Map<string, Tracked>();
  private readonly now: () => number;
  private timer?: NodeJS.Timeout;
  private ticking = false;
  private stopped = false;

  constructor(private readonly deps: RtmsConnectorDeps) {
    this.now = deps.now ?? Date.now;
  }

  get owner(): string {
    return this.deps.settings.instanceId;
  }

  start(): void {
    if (this.timer) return;
    const every = Math.max(200, Math.floor(this.deps.settings.leaseTtlMs / 3));
    this.timer = setInterval(() => void this.tick(), every);
    this.timer.unref();
  }

  /** Streams this process holds now (for tests and the status line). */
  held(): string[] {
    return [...this.streams.values()].filter((t) => t.lease && !t.done).map((t) => t.info.streamId);
  }

  tracked(): string[] {
    return [...this.streams.keys()];
  }

  /** `*.rtms_started`: idempotent; a repeat (Zoom resends an unacknowledged one ~5 min later) changes nothing. */
  async onStarted(info: RtmsStreamInfo): Promise<void> {
    // Without credentials nothing can connect; taking the lease would only keep pods that can away.
    if (this.stopped || !this.deps.settings.credentials || this.streams.has(info.streamId)) return;
    if (this.now() - info.startedAt > this.deps.settings.maxStreamAgeMs) return;
    if (await this.isOver(info.streamId)) return;
    if (this.streams.has(info.streamId)) return;
    this.streams.set(info.streamId, {
      info,
      leaseUntil: 0,
      heldElsewhere: false,
      failures: 0,
      unanswered: 0,
      nextAttemptAt: 0,
      done: false,
    });
    await this.tickStream(this.streams.get(info.streamId)!);
  }

  /** `*.rtms_stopped`: every pod forgets the stream; its holder closes, flushes, writes the manifest, releases. */
  async onStopped(streamId: string, stopReason: string): Promise<void> {
    await this.markOver(streamId, `rtms_stopped:${stopReason}`);
    const t = this.streams.get(streamId);
    if (!t) return;
    await this.end(t, `rtms_stopped:${stopReason}`);
  }

  /**
   * Graceful stop (SIGTERM): close every session, store what is buffered, release the leases so another pod takes over
   * at once.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await Promise.all(
      [...this.streams.values()].map(async (t) => {
        t.done = true;
        t.session?.close();
        await t.sink?.finish(undefined).catch(() => undefined);
        if (t.lease) await this.deps.store.releaseFencedLease(t.lease).catch(() => undefined);
        if (t.lease) this.deps.metrics.streamsHeld.dec();
      }),
    );
    this.streams.clear();
  }

  /** A crash, for tests: sockets dropped, nothing flushed or released (the lease expires on its own). */
  crash(): void {
    this.stopped = true;
    clearInterval(this.timer);
    for (const t of this.streams.values()) {
      t.done = true;
      t.session?.terminate();
    }
    this.streams.clear();
  }

  private async tick(): Promise<void> {
    if (this.ticking || this.stopped) return;
    this.ticking = true;
    try {
      await Promise.all([...this.streams.values()].map((t) => this.tickStream(t)));
    } finally {
      this.ticking = false;
    }
  }

  private async tickStream(t: Tracked): Promise<void> {
    if (t.done || this.stopped) return;
    try {
      if (t.lease) {
        const ok = await this.deps.store.renewFencedLease(t.lease, this.deps.settings.leaseTtlMs);
        if (!ok) {
          this.loseLease(t, 'renewal refused');
          return;
        }
        t.leaseUntil = this.now() + this.deps.settings.leaseTtlMs;
        if (!t.session && this.now() >= t.nextAttemptAt) this.connect(t);
        return;
      }
      if (await this.isOver(t.info.streamId)) {
        this.forget(t);
        return;
      }
      const lease = await this.deps.store.acquireFencedLease(
        rtmsLeaseName(t.info.streamId),
        this.owner,
        this.deps.settings.leaseTtlMs,
      );
      if (!lease) {
        t.heldElsewhere = true;
        return;
      }
      t.lease = lease;
      t.leaseUntil = this.now() + this.deps.settings.leaseTtlMs;
      this.deps.metrics.streamsHeld.inc();
      if (t.heldElsewhere) {
        this.deps.metrics.takeovers.inc();
        this.deps.logger.warn(
          { streamId: t.info.streamId, fence: lease.token },
          'rtms stream taken over from a holder that stopped renewing',
        );
      }
      this.connect(t);
    } catch (err) {
      // Store unavailable: a holder keeps streaming until its local lease deadline, then stops (another pod may have it
      // by then).
      if (t.lease && this.now() >= t.leaseUntil) this.loseLease(t, 'lease could not be renewed in time');
      this.deps.logger.warn(
        { streamId: t.info.streamId, reason: err instanceof Error ? err.message : String(err) },
        'rtms lease check failed',
      );
    }
  }

  private connect(t: Tracked): void {
    const creds = this.deps.settings.credentials;
    if (!creds || !t.lease) return;
    if (!t.sink) {
      const lease = t.lease;
      t.sink = new MediaSink(t.info, lease.token, {
        objects: this.deps.objects,
        bus: this.deps.bus,
        metrics: this.deps.metrics,
        logger: this.deps.logger,
        segmentMs: this.deps.settings.audioSegmentMs,
        stillHolder: async () => t.lease === lease && this.now() < t.leaseUntil,
      });
    }
    const sink = t.sink;
    const span = tracer().startSpan('rtms.connect', {
      kind: SpanKind.CLIENT,
      attributes: {
        'zoom.rtms.stream_id': t.info.streamId,
        'zoom.rtms.fence': t.lease.token,
        'zoom.rtms.attempt': t.failures + 1,
      },
    });
    let ready = false;
    const session = new RtmsSession(
      t.info,
      { clientId: creds.clientId, clientSecret: creds.clientSecret, media: this.deps.settings.media },
      {
        onReady: () => {
          ready = true;
          t.failures = 0;
          t.unanswered = 0;
          this.deps.metrics.connects.inc({ outcome: 'ready' });
          this.deps.metrics.connectionsOpen.inc();
          span.end();
          this.deps.logger.info(
            { streamId: t.info.streamId, fence: t.lease?.token, media: this.deps.settings.media },
            'rtms stream connected',
          );
        },
        onMedia: (frame) => sink.onFrame(frame),
        onKeepAlive: (socket, binary, seconds) => {
          this.deps.metrics.keepAlives.inc({ socket, frame: binary ? 'binary' : 'text' });
          this.deps.metrics.keepAliveSeconds.observe({ socket }, seconds);
        },
      },
    );
    t.session = session;
    session.start();
    void session.done.then((end) => {
      if (ready) this.deps.metrics.connectionsOpen.dec();
      if (span.isRecording()) span.end();
      return this.onSessionEnd(t, session, end);
    });
  }

  private async onSessionEnd(t: Tracked, session: RtmsSession, end: SessionEnd): Promise<void> {
    if (t.session !== session) return;
    t.session = undefined;
    switch (end.kind) {
      case 'closed':
        return;
      case 'ended':
        this.deps.logger.info({ streamId: t.info.streamId, stopReason: end.stopReason }, 'rtms stream ended by Zoom');
        await this.markOver(t.info.streamId, `zoom:${end.stopReason ?? 'terminated'}`);
        await this.end(t, `zoom:${end.stopReason ?? 'terminated'}`);
        return;
      case 'refused':
        this.deps.metrics.connects.inc({ outcome: 'refused' });
        this.deps.metrics.refusals.inc({ stage: end.stage });
        // The reason Zoom gave and the status code; never the signature or the secret.
        this.deps.logger.error(
          {
            streamId: t.info.streamId,
            stage: end.stage,
            statusCode: end.statusCode,
            reason: end.reason ?? 'no reason given',
          },
          'rtms handshake refused by Zoom; not retrying (check RTMS_CLIENT_ID / RTMS_CLIENT_SECRET)',
        );
        await this.markOver(t.info.streamId, `refused:${end.stage}:${end.statusCode}`);
        await this.end(t, undefined);
        return;
      case 'dropped': {
        if (t.done) return;
        this.deps.metrics.connects.inc({ outcome: 'dropped' });
        this.deps.metrics.reconnects.inc();
        t.failures += 1;
        if (!end.ready) t.unanswered += 1;
        if (t.unanswered >= MAX_UNANSWERED_HANDSHAKES) {
          this.deps.metrics.refusals.inc({ stage: end.socket });
          this.deps.logger.error(
            { streamId: t.info.streamId, stage: end.socket, closeCode: end.code, attempts: t.unanswered },
            'rtms handshake never answered: Zoom closed the socket each time before answering; giving the ' +
              'stream up (a wrong RTMS_CLIENT_SECRET does this)',
          );
          await this.markOver(t.info.streamId, 'unanswered');
          await this.end(t, undefined);
          return;
        }
        const delay = Math.min(this.deps.settings.reconnectMaxDelayMs, RECONNECT_MIN_MS * 2 ** (t.failures - 1));
        const jittered = delay / 2 + Math.random() * (delay / 2);
        t.nextAttemptAt = this.now() + jittered;
        this.deps.logger.warn(
          { streamId: t.info.streamId, socket: end.socket, closeCode: end.code, retryInMs: Math.round(jittered) },
          'rtms connection dropped; reconnecting',
        );
        setTimeout(() => void this.tickStream(t), jittered).unref();
        return;
      }
    }
  }

  /** The stream is over for this pod: close, flush, manifest, release. */
  private async end(t: Tracked, endReason: string | undefined): Promise<void> {
    if (t.done) return;
    t.done = true;
    this.streams.delete(t.info.streamId);
    t.session?.close();
    if (t.sink)
      await t.sink
        .finish(endReason)
        .catch((err: unknown) =>
          this.deps.logger.error({ streamId: t.info.streamId, reason: String(err) }, 'rtms manifest not written'),
        );
    if (t.lease) {
      this.deps.metrics.streamsHeld.dec();
      await this.deps.store.releaseFencedLease(t.lease).catch(() => undefined);
    }
  }

  private forget(t: Tracked): void {
    t.done = true;
    this.streams.delete(t.info.streamId);
  }

  private loseLease(t: Tracked, why: string): void {
    this.deps.metrics.leasesLost.inc();
    this.deps.metrics.streamsHeld.dec();
    this.deps.logger.warn({ streamId: t.info.streamId, fence: t.lease?.token, why }, 'rtms lease lost; disconnecting');
    t.lease = undefined;
    t.heldElsewhere = true;
    const session = t.session;
    t.session = undefined;
    session?.close();
    // What this holder still buffers is not written: the new holder streams from where Zoom is now.
    t.sink = undefined;
  }

  private async isOver(streamId: string): Promise<boolean> {
    return (await this.deps.store.getToken(tombstoneKey(streamId))) !== null;
  }

  private async markOver(streamId: string, reason: string): Promise<void> {
    await this.deps.store
      .offerToken(tombstoneKey(streamId), { token: reason, receivedAt: this.now() }, this.deps.settings.maxStreamAgeMs)
      .catch(() => undefined);
  }
}
