import { type LinkRecord, LinkConflictError, type OnceKind, routes } from '../accounts-store.port';

export interface AccountsSnapshot {
  links: LinkRecord[];
  once: Array<{ kind: OnceKind; id: string; value: string; expiresAt: number }>;
}

/**
 * The store's semantics in one process (memory and embedded adapters): every operation is decided synchronously,
 * so concurrent callers see it as atomic, exactly like the Redis scripts.
 */
export class AccountsState {
  private readonly links = new Map<string, LinkRecord>();
  private readonly byZoomUser = new Map<string, string>();
  private readonly byAccount = new Map<string, string>();
  private readonly once = new Map<string, { value: string; expiresAt: number }>();
  private readonly locks = new Map<string, { owner: string; expiresAt: number }>();

  constructor(private readonly now: () => number) {}

  putOnce(kind: OnceKind, id: string, value: string, ttlMs: number): void {
    this.once.set(`${kind}:${id}`, { value, expiresAt: this.now() + ttlMs });
  }

  takeOnce(kind: OnceKind, id: string): string | null {
    const key = `${kind}:${id}`;
    const entry = this.once.get(key);
    this.once.delete(key);
    return entry !== undefined && entry.expiresAt > this.now() ? entry.value : null;
  }

  getLink(appUserId: string): LinkRecord | null {
    const link = this.links.get(appUserId);
    return link ? structuredClone(link) : null;
  }

  saveLink(link: LinkRecord): void {
    if (routes(link.status)) {
      const owner = this.byZoomUser.get(link.zoomUserId);
      const accountOwner = link.level === 'account' ? this.byAccount.get(link.accountId) : undefined;
      if (
        (owner !== undefined && owner !== link.appUserId) ||
        (accountOwner !== undefined && accountOwner !== link.appUserId)
      )
        throw new LinkConflictError();
    }
    this.unindex(link.appUserId);
    this.links.set(link.appUserId, structuredClone(link));
    if (routes(link.status)) {
      this.byZoomUser.set(link.zoomUserId, link.appUserId);
      if (link.level === 'account') this.byAccount.set(link.accountId, link.appUserId);
    }
  }

  deleteLink(appUserId: string): void {
    this.unindex(appUserId);
    this.links.delete(appUserId);
  }

  appUserFor(query: { zoomUserId?: string; accountId?: string }): string | null {
    if (query.zoomUserId) {
      const u = this.byZoomUser.get(query.zoomUserId);
      if (u !== undefined) return u;
    }
    if (query.accountId) return this.byAccount.get(query.accountId) ?? null;
    return null;
  }

  acquireLock(name: string, owner: string, ttlMs: number): boolean {
    const held = this.locks.get(name);
    if (held !== undefined && held.expiresAt > this.now() && held.owner !== owner) return false;
    this.locks.set(name, { owner, expiresAt: this.now() + ttlMs });
    return true;
  }

  releaseLock(name: string, owner: string): void {
    if (this.locks.get(name)?.owner === owner) this.locks.delete(name);
  }

  snapshot(): AccountsSnapshot {
    const now = this.now();
    const once: AccountsSnapshot['once'] = [];
    for (const [key, v] of this.once) {
      if (v.expiresAt <= now) continue;
      const colon = key.indexOf(':');
      once.push({
        kind: key.slice(0, colon) as OnceKind,
        id: key.slice(colon + 1),
        value: v.value,
        expiresAt: v.expiresAt,
      });
    }
    return { links: [...this.links.values()], once };
  }

  restore(snapshot: AccountsSnapshot): void {
    for (const link of snapshot.links) this.saveLink(link);
    for (const o of snapshot.once) this.once.set(`${o.kind}:${o.id}`, { value: o.value, expiresAt: o.expiresAt });
  }

  private unindex(appUserId: string): void {
    const old = this.links.get(appUserId);
    if (old === undefined) return;
    if (this.byZoomUser.get(old.zoomUserId) === appUserId) this.byZoomUser.delete(old.zoomUserId);
    if (this.byAccount.get(old.accountId) === appUserId) this.byAccount.delete(old.accountId);
  }
}
