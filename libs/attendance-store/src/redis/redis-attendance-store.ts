import type { AttendanceMeetingSummary, AttendanceSession } from '@zoom-pipeline/contracts';
import { Redis } from 'ioredis';
import {
  type AttendanceStore,
  AttendanceStoreUnavailableError,
  type MeetingView,
  type Registration,
  registrationField,
} from '../attendance-store.port';

export interface RedisAttendanceStoreOptions {
  /** Never appears in errors. */
  url: string;
  /** Default `zp:`; keys live under `<prefix>att:`. */
  keyPrefix?: string;
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
}

/**
 * Key layout under `<prefix>att:`:
 *   reg:<meetingId>        hash  r:<registrant_id> | c:<customer_key> | e:<email>  → app user
 *   links                  hash  zoom user id → app user
 *   sessions:<uuid>        hash  session id → session JSON
 *   summary:<uuid>         hash  part → summary part JSON
 * Like the dedup store, calls fail fast while Redis is unreachable (no offline queue).
 */
export class RedisAttendanceStore implements AttendanceStore {
  private readonly redis: Redis;
  private readonly prefix: string;

  constructor(options: RedisAttendanceStoreOptions) {
    this.prefix = `${options.keyPrefix ?? 'zp:'}att:`;
    this.redis = new Redis(options.url, {
      connectTimeout: options.connectTimeoutMs ?? 2000,
      commandTimeout: options.commandTimeoutMs ?? 1000,
      enableOfflineQueue: true,
      maxRetriesPerRequest: 1,
      retryStrategy: (attempt: number) => Math.min(50 * 2 ** attempt, 1000),
      disconnectTimeout: 200,
    });
    this.redis.on('error', () => undefined); // reported through the failing calls (without the URL)
  }

  private async run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw new AttendanceStoreUnavailableError(
        `redis ${what} failed: ${(err as Error).message.replace(/redis(s)?:\/\/\S+/g, '[redis url]')}`,
        { cause: err },
      );
    }
  }

  async putRegistration(r: Registration): Promise<void> {
    await this.run('putRegistration', () =>
      this.redis.hset(`${this.prefix}reg:${r.meetingId}`, registrationField(r.kind, r.value), r.appUserId),
    );
  }
  async registrations(meetingId: string, fields?: readonly string[]): Promise<Map<string, string>> {
    const key = `${this.prefix}reg:${meetingId}`;
    if (!fields) return new Map(Object.entries(await this.run('registrations', () => this.redis.hgetall(key))));
    const out = new Map<string, string>();
    if (fields.length === 0) return out;
    const values = await this.run('registrations', () => this.redis.hmget(key, ...fields));
    fields.forEach((f, i) => {
      const v = values[i];
      if (v) out.set(f, v);
    });
    return out;
  }
  async putLink(zoomUserId: string, appUserId: string | null): Promise<void> {
    await this.run('putLink', () =>
      appUserId === null
        ? this.redis.hdel(`${this.prefix}links`, zoomUserId)
        : this.redis.hset(`${this.prefix}links`, zoomUserId, appUserId),
    );
  }
  async links(zoomUserIds: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (zoomUserIds.length === 0) return out;
    const values = await this.run('links', () => this.redis.hmget(`${this.prefix}links`, ...zoomUserIds));
    zoomUserIds.forEach((z, i) => {
      const v = values[i];
      if (v) out.set(z, v);
    });
    return out;
  }
  async saveSessions(sessions: readonly AttendanceSession[]): Promise<void> {
    if (sessions.length === 0) return;
    const p = this.redis.pipeline();
    for (const s of sessions) p.hset(`${this.prefix}sessions:${s.meetingUuid}`, s.id, JSON.stringify(s));
    await this.run('saveSessions', () => p.exec());
  }
  async saveSummaries(parts: readonly AttendanceMeetingSummary[]): Promise<void> {
    if (parts.length === 0) return;
    const p = this.redis.pipeline();
    for (const s of parts) p.hset(`${this.prefix}summary:${s.meetingUuid}`, String(s.part), JSON.stringify(s));
    await this.run('saveSummaries', () => p.exec());
  }
  async meeting(meetingUuid: string): Promise<MeetingView | null> {
    const [s, p] = await this.run('meeting', () =>
      Promise.all([
        this.redis.hgetall(`${this.prefix}sessions:${meetingUuid}`),
        this.redis.hgetall(`${this.prefix}summary:${meetingUuid}`),
      ]),
    );
    if (Object.keys(s).length === 0 && Object.keys(p).length === 0) return null;
    const sessions = Object.values(s).map((v) => JSON.parse(v) as AttendanceSession);
    return {
      meetingUuid,
      sessions: sessions.sort((a, b) => (a.leftAt < b.leftAt ? -1 : a.leftAt > b.leftAt ? 1 : a.id < b.id ? -1 : 1)),
      summary: Object.values(p)
        .map((v) => JSON.parse(v) as AttendanceMeetingSummary)
        .sort((a, b) => a.part - b.part),
    };
  }
  async isReady(): Promise<boolean> {
    try {
      return (await this.redis.ping()) === 'PONG';
    } catch {
      return false;
    }
  }
  async close(): Promise<void> {
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }
}
