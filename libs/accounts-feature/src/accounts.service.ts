import { createHash, randomBytes } from 'node:crypto';
import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import {
  ACCOUNT_LINK_EVENTS,
  type AccountLinkEventSink,
  LINKED_ACCOUNTS,
  LinkConflictError,
  type LinkRecord,
  type LinkedAccounts,
  OAuthGrantRejectedError,
  OAuthUnavailableError,
  type TokenSet,
  pkcePair,
} from '@zoom-pipeline/accounts-store';
import { type AccountsSettings, type AppConfig, CONFIG } from '@zoom-pipeline/config';
import type { AccountLinkEvent } from '@zoom-pipeline/contracts';
import { HealthService, HttpError, LOGGER } from '@zoom-pipeline/service-kit';
import type { Logger } from '@zoom-pipeline/telemetry';

/** The query parameter carrying the one-time confirmation code back to the app (returnUrl). */
export const CONFIRMATION_PARAM = 'zoom_link_code';
/** The query parameter telling the app that the user did not consent (returnUrl). */
export const LINK_ERROR_PARAM = 'zoom_link_error';

interface StartedLink {
  appUserId: string;
  returnUrl: string;
  verifier: string;
  level: 'user' | 'account';
  expiresAt: number;
}

interface PendingLink {
  appUserId: string;
  zoomUserId: string;
  accountId: string;
  email?: string;
  level: 'user' | 'account';
  tokens: TokenSet;
  expiresAt: number;
}

/** What GET /accounts/links/{appUserId} answers: never a token. */
export interface LinkView {
  appUserId: string;
  zoomUserId: string;
  accountId: string;
  email?: string;
  level: 'user' | 'account';
  status: LinkRecord['status'];
  linkedAt: string;
  updatedAt: string;
}

const APP_USER_ID = /^[\x21-\x7e]{1,200}$/;

/** Digest under which a secret (state, confirmation code) is stored: the store never holds the secret itself. */
function digest(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/**
 * Linking an app user to their Zoom user (issue #16), safely:
 * - start: 32 random bytes of `state` bound server-side to the app user, a PKCE verifier (S256) and an expiry, single
 * use;
 * - callback: the state taken (deleted) before anything else, the code exchanged with the verifier, the Zoom user read,
 *   and only a *pending* link made, behind a one-time confirmation code sent to the app's returnUrl;
 * - confirm: the app's backend activates it for the same app user only. An attacker who starts a link for their
 *   own app account and lures a victim through Zoom's consent cannot confirm it as the victim (login CSRF).
 */
@Injectable()
export class AccountsService implements OnApplicationBootstrap {
  private readonly settings: AccountsSettings;

  constructor(
    @Inject(CONFIG) config: AppConfig,
    @Inject(LINKED_ACCOUNTS) private readonly linked: LinkedAccounts | null,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(ACCOUNT_LINK_EVENTS) private readonly events: AccountLinkEventSink,
    private readonly health: HealthService,
  ) {
    if (config.accounts === undefined || linked === null)
      throw new Error('the accounts feature needs ACCOUNTS_ENCRYPTION_KEY and its companions');
    this.settings = config.accounts;
  }

  onApplicationBootstrap(): void {
    this.health.addReadiness({ name: 'accounts-store', check: () => this.l.store.isReady() });
  }

  private get l(): LinkedAccounts {
    return this.linked!;
  }

  async start(body: unknown): Promise<{ authorizeUrl: string; expiresAt: string }> {
    const o = asObject(body);
    const appUserId = appUser(o.appUserId);
    const returnUrl = typeof o.returnUrl === 'string' ? o.returnUrl : '';
    if (!this.returnUrlAllowed(returnUrl))
      throw new HttpError(400, 'return_url_not_allowed', 'returnUrl must start with one of ACCOUNTS_RETURN_URLS');
    const level = o.level === undefined || o.level === 'user' ? 'user' : o.level === 'account' ? 'account' : undefined;
    if (level === undefined) throw new HttpError(400, 'level_invalid', "level must be 'user' or 'account'");
    const state = randomBytes(32).toString('base64url');
    const { verifier, challenge } = pkcePair();
    const expiresAt = Date.now() + this.settings.linkTtlMs;
    const record: StartedLink = { appUserId, returnUrl, verifier, level, expiresAt };
    await this.l.store.putOnce(
      'state',
      digest(state),
      this.l.cipher.seal(JSON.stringify(record), 'state'),
      this.settings.linkTtlMs,
    );
    this.logger.info({ appUserId, level }, 'account link started');
    return {
      authorizeUrl: this.l.oauth.authorizeUrl({
        state,
        codeChallenge: challenge,
        redirectUri: this.settings.redirectUrl,
      }),
      expiresAt: new Date(expiresAt).toISOString(),
    };
  }

  /** Zoom's redirect back: the URL to send the browser to (the app's returnUrl with a confirmation code). */
  async callback(query: { code?: string; state?: string; error?: string }): Promise<string> {
    if (!query.state)
      throw new HttpError(400, 'state_missing', 'the callback has no state: start the link again from the app');
    const sealed = await this.l.store.takeOnce('state', digest(query.state));
    const started = sealed === null ? undefined : (JSON.parse(this.l.cipher.open(sealed, 'state')) as StartedLink);
    if (started === undefined || started.expiresAt <= Date.now()) {
      this.logger.warn('account link callback refused: unknown, expired or already used state');
      throw new HttpError(
        400,
        'state_invalid',
        'this link request is unknown, expired or already used: start the link again from the app',
      );
    }
    if (!query.code) {
      this.logger.info({ appUserId: started.appUserId }, 'account link not consented at Zoom');
      return withParam(
        started.returnUrl,
        LINK_ERROR_PARAM,
        query.error === 'access_denied' ? 'access_denied' : 'consent_failed',
      );
    }
    let tokens: TokenSet;
    let user;
    try {
      tokens = await this.l.oauth.exchangeCode({
        code: query.code,
        codeVerifier: started.verifier,
        redirectUri: this.settings.redirectUrl,
      });
      user = await this.l.oauth.me(tokens.accessToken);
    } catch (err) {
      throw zoomError(err, 'code_rejected', 'Zoom refused the authorization code: start the link again from the app');
    }
    const pending: PendingLink = {
      appUserId: started.appUserId,
      zoomUserId: user.id,
      accountId: user.accountId,
      email: user.email,
      level: started.level,
      tokens,
      expiresAt: Date.now() + this.settings.linkTtlMs,
    };
    const code = randomBytes(32).toString('base64url');
    await this.l.store.putOnce(
      'confirm',
      digest(code),
      this.l.cipher.seal(JSON.stringify(pending), 'confirm'),
      this.settings.linkTtlMs,
    );
    this.logger.info({ appUserId: started.appUserId, zoomUserId: user.id }, 'account link pending confirmation');
    return withParam(started.returnUrl, CONFIRMATION_PARAM, code);
  }

  async confirm(body: unknown): Promise<LinkView> {
    const o = asObject(body);
    const appUserId = appUser(o.appUserId);
    const code = typeof o.code === 'string' ? o.code : '';
    const sealed = code === '' ? null : await this.l.store.takeOnce('confirm', digest(code));
    const pending = sealed === null ? undefined : (JSON.parse(this.l.cipher.open(sealed, 'confirm')) as PendingLink);
    if (pending === undefined || pending.expiresAt <= Date.now())
      throw new HttpError(400, 'code_invalid', 'the confirmation code is unknown, expired or already used');
    if (pending.appUserId !== appUserId) {
      // Someone else's consent (login CSRF) or a mix-up: nothing is linked, and the grant goes back to Zoom.
      await this.revokeQuietly(pending.tokens.accessToken);
      this.logger.warn({ appUserId }, 'account link confirmation refused: the link was started by another app user');
      throw new HttpError(
        403,
        'app_user_mismatch',
        'this confirmation belongs to a link started for another app user; nothing was linked',
      );
    }
    const now = new Date().toISOString();
    const previous = await this.l.store.getLink(appUserId);
    const link: LinkRecord = {
      appUserId,
      zoomUserId: pending.zoomUserId,
      accountId: pending.accountId,
      ...(pending.email !== undefined ? { email: pending.email } : {}),
      level: pending.level,
      status: 'active',
      tokens: this.l.sealTokens(appUserId, pending.tokens),
      tokenVersion: (previous?.tokenVersion ?? 0) + 1,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.l.store.saveLink(link);
    } catch (err) {
      if (err instanceof LinkConflictError) {
        await this.revokeQuietly(pending.tokens.accessToken);
        throw new HttpError(409, err.code, err.message);
      }
      throw err;
    }
    const old = previous ? this.tokensOf(previous) : undefined;
    if (old && previous?.zoomUserId !== link.zoomUserId) await this.revokeQuietly(old.accessToken);
    await this.events.publish(linkEvent(link, 'linked', now));
    this.logger.info({ appUserId, zoomUserId: link.zoomUserId }, 'account linked');
    return view(link);
  }

  async get(appUserId: string): Promise<LinkView> {
    const link = await this.l.store.getLink(appUser(appUserId));
    if (link === null) throw new HttpError(404, 'link_not_found', 'this app user has no Zoom link');
    return view(link);
  }

  /** Unlink: revoke at Zoom (best effort: the user may have uninstalled already), delete tokens and the link. */
  async unlink(appUserId: string): Promise<void> {
    const link = await this.l.store.getLink(appUser(appUserId));
    if (link === null) throw new HttpError(404, 'link_not_found', 'this app user has no Zoom link');
    const tokens = this.tokensOf(link);
    if (tokens) await this.revokeQuietly(tokens.accessToken);
    await this.l.store.deleteLink(link.appUserId);
    await this.events.publish(linkEvent(link, 'revoked', new Date().toISOString()));
    this.logger.info({ appUserId: link.appUserId, zoomUserId: link.zoomUserId }, 'account unlinked');
  }

  /**
   * `app_deauthorized`: the user removed the app at Zoom. Tokens deleted, link revoked (kept, so the app can tell
   * the user why). Returns the event for `zoom.accounts.links`, or undefined when nobody was linked.
   */
  async deauthorized(
    zoomUserId: string | undefined,
    accountId: string | undefined,
    at: string,
  ): Promise<AccountLinkEvent | undefined> {
    const appUserId = await this.l.store.appUserFor({ zoomUserId, accountId });
    const link = appUserId === null ? null : await this.l.store.getLink(appUserId);
    if (link === null) return undefined;
    // An old deauthorization (a new consumer group reads zoom.events from the start) must not revoke a newer link.
    if (Date.parse(at) < Date.parse(link.createdAt)) {
      this.logger.info(
        { appUserId: link.appUserId, zoomUserId: link.zoomUserId },
        'app_deauthorized older than the link: ignored',
      );
      return undefined;
    }
    const { tokens: _deleted, ...rest } = link;
    await this.l.store.saveLink({ ...rest, status: 'revoked', tokenVersion: link.tokenVersion + 1, updatedAt: at });
    this.logger.info(
      { appUserId: link.appUserId, zoomUserId: link.zoomUserId },
      'account link revoked: app deauthorized at Zoom',
    );
    return linkEvent(link, 'revoked', at);
  }

  private tokensOf(link: LinkRecord): TokenSet | undefined {
    try {
      return this.l.openTokens(link);
    } catch (err) {
      this.logger.warn({ appUserId: link.appUserId, cause: (err as Error).message }, 'stored tokens do not open');
      return undefined;
    }
  }

  private async revokeQuietly(accessToken: string): Promise<void> {
    try {
      await this.l.oauth.revoke(accessToken);
    } catch (err) {
      this.logger.warn({ cause: (err as Error).message }, 'revoking a Zoom grant failed');
    }
  }

  private returnUrlAllowed(url: string): boolean {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return false;
    }
    // Compare the normalised URL (no credentials, no fragment) with each prefix, at a path boundary or as a full
    // prefix.
    if (parsed.username !== '' || parsed.password !== '' || parsed.hash !== '') return false;
    return this.settings.returnUrls.some((prefix) => parsed.href.startsWith(new URL(prefix).href));
  }
}

export function linkEvent(
  link: Pick<LinkRecord, 'zoomUserId' | 'accountId' | 'appUserId'>,
  status: AccountLinkEvent['status'],
  at: string,
): AccountLinkEvent {
  return { zoomUserId: link.zoomUserId, accountId: link.accountId, appUserId: link.appUserId, status, at };
}

function view(link: LinkRecord): LinkView {
  return {
    appUserId: link.appUserId,
    zoomUserId: link.zoomUserId,
    accountId: link.accountId,
    ...(link.email !== undefined ? { email: link.email } : {}),
    level: link.level,
    status: link.status,
    linkedAt: link.createdAt,
    updatedAt: link.updatedAt,
  };
}

function asObject(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new HttpError(400, 'body_not_object', 'the body must be a JSON object');
  return body as Record<string, unknown>;
}

function appUser(v: unknown): string {
  if (typeof v !== 'string' || !APP_USER_ID.test(v))
    throw new HttpError(
      400,
      'app_user_id_invalid',
      'appUserId must be 1-200 printable ASCII characters without spaces',
    );
  return v;
}

function withParam(url: string, name: string, value: string): string {
  const u = new URL(url);
  u.searchParams.set(name, value);
  return u.toString();
}

function zoomError(err: unknown, code: string, message: string): HttpError {
  if (err instanceof OAuthGrantRejectedError) return new HttpError(400, code, message);
  if (err instanceof OAuthUnavailableError)
    return new HttpError(502, 'zoom_unavailable', 'Zoom could not be reached; start the link again in a moment');
  return err instanceof HttpError ? err : new HttpError(500, 'internal_error', 'internal error; see the service log');
}
