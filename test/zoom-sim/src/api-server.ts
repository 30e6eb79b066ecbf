/*
 * Zoom's REST API, the parts the reconciler uses (docs/ZOOM-FACTS.md §5), consistent with a DownloadServer:
 *
 *   GET    /v2/users/<userId>/recordings        from, to (yyyy-mm-dd, at most one month apart), page_size (≤ 300),
 *   GET    /v2/accounts/<accountId>/recordings  next_page_token (expires after 15 min) → meetings[] newest first
 *   DELETE /v2/meetings/<uuid>/recordings/<fileId>?action=trash
 *   POST   /v2/meetings/<meetingId>/registrants  {email, first_name, last_name?} → 201 {id, registrant_id, join_url,
 *                                               topic}; 404 (code 3001) for a meeting not added with `addMeeting`,
 *                                               400 (code 3000, the sim's) when its registration is off; the same
 *                                               email again gets the same registrant
 *
 * Every request needs `Authorization: Bearer <S2S access token>` issued by the download server's /oauth/token (and
 * not expired): else 401. Recordings added here are files of the download server, downloadable with the same S2S
 * token, and each comes with the `recording.completed` body the webhook would have carried.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo } from 'node:net';
import type { DownloadServer, SimFile } from './download-server';
import {
  type RecordingCompletedEvent,
  type RecordingCompletedOptions,
  type RecordingFileSpec,
  recordingCompleted,
  webhookDownloadUrl,
} from './payload-builder';

export interface ZoomApiServerOptions {
  downloads: DownloadServer;
  host?: string;
  port?: number;
  /** Zoom: 15 minutes. */
  pageTokenTtlMs?: number;
  /** Requests beyond this many in one second get 429 with `Retry-After: 1`; default unlimited. */
  maxRequestsPerSecond?: number;
  now?: () => number;
}

export interface AddRecordingOptions extends Omit<
  RecordingCompletedOptions,
  'downloadBaseUrl' | 'files' | 'downloadToken'
> {
  /** Default: one MP4 of 64 KiB. Each becomes a file of the download server. */
  files?: Array<Omit<RecordingFileSpec, 'id' | 'downloadUrl'>>;
}

export interface SimRecording {
  uuid: string;
  /** The meeting object as the listing returns it. */
  meeting: Record<string, unknown>;
  /** The `recording.completed` the webhook carries (its own download token, granted for these files). */
  webhook: RecordingCompletedEvent;
  files: SimFile[];
}

export interface ZoomApiStats {
  /** Every request, whatever the answer. */
  requests: number;
  /** 200 answers of the listings (pages served). */
  pages: number;
  rateLimited: number;
  /** Requests that came before the Retry-After of a 429 had passed (a client ignoring it). */
  ignoredRetryAfter: number;
  unauthorized: number;
  badRequests: number;
  /** How often each meeting UUID was served in a page. */
  listed: Record<string, number>;
  /** `meetingUuid/fileId` moved to the trash. */
  trashed: string[];
  /** Registrants added (201 answers, repeats included). */
  registrations: number;
}

export interface SimRegistrant {
  meetingId: string;
  registrantId: string;
  email: string;
  firstName: string;
  lastName?: string;
  joinUrl: string;
}

export interface ZoomApiServer {
  /** Base URL including `/v2`, e.g. http://127.0.0.1:41234/v2. */
  readonly url: string;
  addRecording(opts?: AddRecordingOptions): SimRecording;
  recordings(): readonly SimRecording[];
  /** A scheduled meeting the registrants endpoint knows; `registration: false` answers 400 as Zoom does. */
  addMeeting(meeting: { meetingId: string; topic?: string; registration: boolean }): void;
  registrants(meetingId: string): readonly SimRegistrant[];
  /** The next `count` requests answer 429 with this Retry-After. */
  rateLimitNext(count: number, retryAfterSec?: number): void;
  setMaxRequestsPerSecond(limit: number | undefined): void;
  stats(): ZoomApiStats;
  resetStats(): void;
  close(): Promise<void>;
}

const DAY_MS = 86_400_000;

interface PageCursor {
  query: string;
  offset: number;
  expiresAt: number;
}

class SimZoomApi implements ZoomApiServer {
  url = '';
  private readonly server: Server;
  private readonly recs: SimRecording[] = [];
  private readonly cursors = new Map<string, PageCursor>();
  private readonly now: () => number;
  private limited = { count: 0, retryAfterSec: 1 };
  private maxPerSecond: number | undefined;
  private second = { at: 0, count: 0 };
  /** No request is welcome before this (the last 429's Retry-After). */
  private retryAfterUntil = 0;
  private totals: ZoomApiStats = emptyStats();
  private readonly meetings = new Map<string, { topic: string; registration: boolean; registrants: SimRegistrant[] }>();

  constructor(private readonly opts: ZoomApiServerOptions) {
    this.now = opts.now ?? Date.now;
    this.maxPerSecond = opts.maxRequestsPerSecond;
    this.server = createServer((req, res) => {
      try {
        this.handle(req, res);
      } catch {
        if (!res.headersSent) res.writeHead(500).end();
      }
    });
  }

  async start(): Promise<void> {
    const host = this.opts.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port ?? 0, host, () => resolve());
    });
    this.url = `http://${host}:${(this.server.address() as AddressInfo).port}/v2`;
  }

  addRecording(opts: AddRecordingOptions = {}): SimRecording {
    const dl = this.opts.downloads;
    const specs = opts.files ?? [{ size: 64 * 1024 }];
    const files = specs.map((f) =>
      dl.addFile({ size: f.size, fileExtension: f.fileExtension ?? extensionOf(f.fileType) }),
    );
    const token = dl.issueDownloadToken(files.map((f) => f.fileId));
    const webhook = recordingCompleted({
      ...opts,
      downloadBaseUrl: dl.url,
      downloadToken: token,
      files: specs.map((f, i) => ({ ...f, id: files[i]!.fileId })),
    });
    // The listing's URLs differ from the webhook's (another opaque segment) but name the same files.
    const meeting = structuredClone(webhook.payload.object) as unknown as Record<string, unknown>;
    for (const list of ['recording_files', 'participant_audio_files']) {
      for (const f of (meeting[list] as Array<Record<string, unknown>> | undefined) ?? []) {
        if (typeof f.download_url === 'string' && typeof f.id === 'string')
          f.download_url = webhookDownloadUrl(dl.url, f.id);
      }
    }
    const rec: SimRecording = { uuid: webhook.payload.object.uuid, meeting, webhook, files };
    this.recs.push(rec);
    return rec;
  }

  recordings(): readonly SimRecording[] {
    return this.recs;
  }

  addMeeting(meeting: { meetingId: string; topic?: string; registration: boolean }): void {
    this.meetings.set(meeting.meetingId, {
      topic: meeting.topic ?? `Sim meeting ${meeting.meetingId}`,
      registration: meeting.registration,
      registrants: [],
    });
  }

  registrants(meetingId: string): readonly SimRegistrant[] {
    return this.meetings.get(meetingId)?.registrants ?? [];
  }

  rateLimitNext(count: number, retryAfterSec = 1): void {
    this.limited = { count, retryAfterSec };
  }

  setMaxRequestsPerSecond(limit: number | undefined): void {
    this.maxPerSecond = limit;
  }

  stats(): ZoomApiStats {
    return { ...this.totals, listed: { ...this.totals.listed }, trashed: [...this.totals.trashed] };
  }

  resetStats(): void {
    this.totals = emptyStats();
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res
      .writeHead(status, {
        'content-type': 'application/json;charset=UTF-8',
        'content-length': Buffer.byteLength(text),
        ...headers,
      })
      .end(text);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.totals.requests++;
    const url = new URL(req.url ?? '/', 'http://sim');
    const now = this.now();
    // A little slack for timer granularity between the two processes' clocks.
    if (now < this.retryAfterUntil - 50) this.totals.ignoredRetryAfter++;
    if (this.limited.count > 0) {
      this.limited.count--;
      this.totals.rateLimited++;
      this.retryAfterUntil = now + this.limited.retryAfterSec * 1000;
      return this.json(
        res,
        429,
        { code: 429, message: 'You have reached the maximum per-second rate limit for this API. Try again later.' },
        { 'retry-after': String(this.limited.retryAfterSec) },
      );
    }
    if (this.maxPerSecond !== undefined) {
      const sec = Math.floor(now / 1000);
      if (this.second.at !== sec) this.second = { at: sec, count: 0 };
      if (++this.second.count > this.maxPerSecond) {
        this.totals.rateLimited++;
        this.retryAfterUntil = now + 1000;
        return this.json(
          res,
          429,
          { code: 429, message: 'You have reached the maximum per-second rate limit for this API. Try again later.' },
          { 'retry-after': '1' },
        );
      }
    }
    const auth = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (auth === null || !this.opts.downloads.isAccessTokenValid(auth[1]!)) {
      this.totals.unauthorized++;
      return this.json(res, 401, { code: 124, message: 'Invalid access token.' });
    }
    const list = /^\/v2\/(users|accounts)\/([^/]+)\/recordings$/.exec(url.pathname);
    if (list !== null && req.method === 'GET')
      return this.list(res, url, list[1] === 'users' ? decodeURIComponent(list[2]!) : undefined, now);
    const trash = /^\/v2\/meetings\/([^/]+)\/recordings\/([^/]+)$/.exec(url.pathname);
    if (trash !== null && req.method === 'DELETE') {
      // The UUID arrives encoded once or twice (docs/ZOOM-FACTS.md §5): decode until stable.
      let uuid = trash[1]!;
      for (let i = 0; i < 2 && /%[0-9A-Fa-f]{2}/.test(uuid); i++) uuid = decodeURIComponent(uuid);
      const fileId = decodeURIComponent(trash[2]!);
      const rec = this.recs.find((r) => r.uuid === uuid && r.files.some((f) => f.fileId === fileId));
      if (rec === undefined) return this.json(res, 404, { code: 3301, message: 'This recording does not exist.' });
      this.totals.trashed.push(`${uuid}/${fileId}`);
      res.writeHead(204).end();
      return;
    }
    const register = /^\/v2\/meetings\/([^/]+)\/registrants$/.exec(url.pathname);
    if (register !== null && req.method === 'POST') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.register(res, decodeURIComponent(register[1]!), Buffer.concat(chunks)));
      return;
    }
    this.json(res, 404, { code: 404, message: 'Not found' });
  }

  private register(res: ServerResponse, meetingId: string, raw: Buffer): void {
    const meeting = this.meetings.get(meetingId);
    if (meeting === undefined)
      return this.json(res, 404, { code: 3001, message: `Meeting does not exist: ${meetingId}.` });
    if (!meeting.registration)
      return this.json(res, 400, { code: 3000, message: 'Registration has not been enabled for this meeting.' });
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    } catch {
      this.totals.badRequests++;
      return this.json(res, 400, { code: 300, message: 'Request Body should be a valid JSON object.' });
    }
    const email = typeof body.email === 'string' ? body.email.trim() : '';
    const firstName = typeof body.first_name === 'string' ? body.first_name.trim() : '';
    if (!/^[^\s@]+@[^\s@]+$/.test(email) || firstName === '') {
      this.totals.badRequests++;
      return this.json(res, 400, { code: 300, message: 'Validation Failed.' });
    }
    let r = meeting.registrants.find((x) => x.email.toLowerCase() === email.toLowerCase());
    if (r === undefined) {
      const registrantId = randomBytes(16).toString('base64url');
      r = {
        meetingId,
        registrantId,
        email,
        firstName,
        ...(typeof body.last_name === 'string' ? { lastName: body.last_name } : {}),
        joinUrl:
          `https://sim.zoom.us/w/${meetingId}?tk=${randomBytes(24).toString('base64url')}.DQ` +
          `&uuid=WN_${registrantId}`,
      };
      meeting.registrants.push(r);
    }
    this.totals.registrations++;
    this.json(res, 201, {
      id: Number(meetingId),
      registrant_id: r.registrantId,
      join_url: r.joinUrl,
      topic: meeting.topic,
      start_time: new Date(this.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    });
  }

  private list(res: ServerResponse, url: URL, userId: string | undefined, now: number): void {
    const q = url.searchParams;
    const bad = (message: string): void => {
      this.totals.badRequests++;
      this.json(res, 400, { code: 300, message });
    };
    const today = new Date(now).toISOString().slice(0, 10);
    const from = q.get('from') ?? today;
    const to = q.get('to') ?? today;
    const fromMs = dayMs(from);
    const toMs = dayMs(to);
    if (fromMs === undefined || toMs === undefined) return bad('Invalid date: from and to are yyyy-mm-dd.');
    const monthLater = new Date(fromMs);
    monthLater.setUTCMonth(monthLater.getUTCMonth() + 1);
    if (toMs < fromMs || toMs > monthLater.getTime()) return bad('The date range must be at most one month.');
    const pageSize = Math.min(300, Math.max(1, Number(q.get('page_size') ?? 30) || 30));
    const queryKey = JSON.stringify([userId ?? null, from, to, pageSize]);
    let offset = 0;
    const token = q.get('next_page_token');
    if (token !== null && token !== '') {
      const cursor = this.cursors.get(token);
      if (cursor === undefined || cursor.expiresAt <= now || cursor.query !== queryKey)
        return bad('The next page token is invalid or expired.');
      this.cursors.delete(token);
      offset = cursor.offset;
    }
    const matching = this.recs
      .filter((r) => {
        const start = Date.parse(String(r.meeting.start_time));
        if (!(start >= fromMs && start < toMs + DAY_MS)) return false;
        return (
          userId === undefined || userId === 'me' || r.meeting.host_id === userId || r.meeting.host_email === userId
        );
      })
      .sort(
        (a, b) =>
          String(b.meeting.start_time).localeCompare(String(a.meeting.start_time)) || a.uuid.localeCompare(b.uuid),
      );
    const page = matching.slice(offset, offset + pageSize);
    let next = '';
    if (offset + pageSize < matching.length) {
      next = randomBytes(24).toString('base64url');
      this.cursors.set(next, {
        query: queryKey,
        offset: offset + pageSize,
        expiresAt: now + (this.opts.pageTokenTtlMs ?? 15 * 60_000),
      });
    }
    for (const r of page) this.totals.listed[r.uuid] = (this.totals.listed[r.uuid] ?? 0) + 1;
    this.totals.pages++;
    this.json(res, 200, {
      from,
      to,
      page_count: Math.ceil(matching.length / pageSize),
      page_size: pageSize,
      total_records: matching.length,
      next_page_token: next,
      meetings: page.map((r) => r.meeting),
    });
  }
}

function emptyStats(): ZoomApiStats {
  return {
    requests: 0,
    pages: 0,
    rateLimited: 0,
    ignoredRetryAfter: 0,
    unauthorized: 0,
    badRequests: 0,
    listed: {},
    trashed: [],
    registrations: 0,
  };
}

function dayMs(value: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return undefined;
  const ms = Date.parse(`${value}T00:00:00Z`);
  return Number.isFinite(ms) ? ms : undefined;
}

function extensionOf(fileType: string | undefined): string {
  return (
    (
      {
        M4A: 'M4A',
        TRANSCRIPT: 'VTT',
        CC: 'VTT',
        CHAT: 'TXT',
        CSV: 'CSV',
        TIMELINE: 'JSON',
        SUMMARY: 'JSON',
      } as Record<string, string>
    )[fileType ?? 'MP4'] ?? 'MP4'
  );
}

/** Starts Zoom's REST API on loopback over `downloads`; close() it when done. */
export async function startZoomApiServer(opts: ZoomApiServerOptions): Promise<ZoomApiServer> {
  const server = new SimZoomApi(opts);
  await server.start();
  return server;
}
