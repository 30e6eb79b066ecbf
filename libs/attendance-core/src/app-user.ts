import type { ParticipantFields } from '@zoom-pipeline/contracts';

/** What the product told us: registrations of one meeting and linked Zoom users. */
export interface AppUserMaps {
  /** Zoom user id → app user (only `linked` links). */
  links: ReadonlyMap<string, string>;
  /** `r:<registrant_id>`, `c:<customer_key>`, `e:<email, lower case>` → app user, for the meeting's id. */
  registrations: ReadonlyMap<string, string>;
}

/**
 * The app user of a participant: a linked Zoom user first (Zoom vouches for the sign-in), then the meeting's
 * registration map by registrant_id, customer_key, email. Undefined when nothing matches: never a guess.
 */
export function resolveAppUser(f: ParticipantFields, maps: AppUserMaps): string | undefined {
  if (f.zoomUserId) {
    const linked = maps.links.get(f.zoomUserId);
    if (linked) return linked;
  }
  if (f.registrantId) {
    const r = maps.registrations.get(`r:${f.registrantId}`);
    if (r) return r;
  }
  if (f.customerKey) {
    const c = maps.registrations.get(`c:${f.customerKey}`);
    if (c) return c;
  }
  if (f.email) return maps.registrations.get(`e:${f.email.toLowerCase()}`);
  return undefined;
}
