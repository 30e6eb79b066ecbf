import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export class RtmsMetrics {
  readonly connectionsOpen: Gauge;
  readonly streamsHeld: Gauge;
  readonly connects: Counter<'outcome'>;
  readonly reconnects: Counter;
  readonly keepAlives: Counter<'socket' | 'frame'>;
  readonly keepAliveSeconds: Histogram<'socket'>;
  readonly mediaBytes: Counter<'media'>;
  readonly mediaGaps: Counter<'media'>;
  readonly mediaGapSeconds: Counter<'media'>;
  readonly takeovers: Counter;
  readonly leasesLost: Counter;
  readonly refusals: Counter<'stage'>;
  readonly segments: Counter<'outcome'>;
  readonly messages: Counter<'media' | 'outcome'>;

  constructor(registry: Registry) {
    const r = [registry];
    this.connectionsOpen = new Gauge({
      name: 'zoom_rtms_connections_open',
      help: 'RTMS streams with signaling and media connected now',
      registers: r,
    });
    this.streamsHeld = new Gauge({
      name: 'zoom_rtms_streams_held',
      help: 'RTMS stream leases this process holds',
      registers: r,
    });
    this.connects = new Counter({
      name: 'zoom_rtms_connects_total',
      help: 'RTMS connection attempts by outcome (ready, refused, dropped)',
      labelNames: ['outcome'],
      registers: r,
    });
    this.reconnects = new Counter({
      name: 'zoom_rtms_reconnects_total',
      help: 'Reconnects of a live stream after a dropped connection',
      registers: r,
    });
    this.keepAlives = new Counter({
      name: 'zoom_rtms_keepalives_total',
      help: 'Keep-alive requests answered, by socket and frame type',
      labelNames: ['socket', 'frame'],
      registers: r,
    });
    this.keepAliveSeconds = new Histogram({
      name: 'zoom_rtms_keepalive_answer_seconds',
      help: 'From receiving a keep-alive request to its answer being written to the socket',
      labelNames: ['socket'],
      buckets: [0.001, 0.005, 0.025, 0.1, 0.5, 2, 10],
      registers: r,
    });
    this.mediaBytes = new Counter({
      name: 'zoom_rtms_media_bytes_total',
      help: 'Media payload bytes received, by media type',
      labelNames: ['media'],
      registers: r,
    });
    this.mediaGaps = new Counter({
      name: 'zoom_rtms_media_gaps_total',
      help: 'Gaps in a media stream (a frame later than the previous one ended)',
      labelNames: ['media'],
      registers: r,
    });
    this.mediaGapSeconds = new Counter({
      name: 'zoom_rtms_media_gap_seconds_total',
      help: 'Media time missing in gaps',
      labelNames: ['media'],
      registers: r,
    });
    this.takeovers = new Counter({
      name: 'zoom_rtms_lease_takeovers_total',
      help: 'Streams taken over after another holder stopped renewing',
      registers: r,
    });
    this.leasesLost = new Counter({
      name: 'zoom_rtms_leases_lost_total',
      help: 'Stream leases this process lost while holding them',
      registers: r,
    });
    this.refusals = new Counter({
      name: 'zoom_rtms_handshake_refusals_total',
      help: 'Handshakes Zoom refused (not retried)',
      labelNames: ['stage'],
      registers: r,
    });
    this.segments = new Counter({
      name: 'zoom_rtms_audio_segments_total',
      help: 'Audio segments written, by outcome (stored, failed)',
      labelNames: ['outcome'],
      registers: r,
    });
    this.messages = new Counter({
      name: 'zoom_rtms_messages_total',
      help: 'Transcript and chat messages, by outcome (published, failed)',
      labelNames: ['media', 'outcome'],
      registers: r,
    });
  }
}
