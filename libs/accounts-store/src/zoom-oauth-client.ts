import { createHash, randomBytes } from 'node:crypto';

/** A user's tokens (never logged; stored only sealed). */
export interface TokenSet {
  accessToken: string;
  refreshToken: string;
  /** Epoch ms. */
  expiresAt: number;
  scope: string;
}

export interface ZoomUser {
  id: string;
  accountId: string;
  email?: string;
}

export interface ZoomOAuthClientOptions {
  clientId: string;
  clientSecret: string;
  /** https://zoom.us (authorize, token, revoke). */
  oauthBaseUrl: string;
  /** Zoom API base including /v2 (https://api.zoom.us/v2; GET {base}/users/me). */
  apiBaseUrl: string;
  timeoutMs?: number;
  now?: () => number;
}

/** Zoom refused a grant (invalid or rotated refresh token, bad code or verifier): only a new consent helps. */
export class OAuthGrantRejectedError extends Error {
  readonly code = 'oauth_grant_rejected';
  constructor(readonly status: number) {
    super(`Zoom refused the grant (HTTP ${status})`);
    this.name = 'OAuthGrantRejectedError';
  }
}

/** Zoom could not be reached or answered an error that may pass (5xx, 429, network). */
export class OAuthUnavailableError extends Error {
  readonly code = 'oauth_unavailable';
  readonly transient = true;
  constructor(message: string) {
    super(message);
    this.name = 'OAuthUnavailableError';
  }
}

/** PKCE (RFC 7636) S256: a 32-byte verifier and its SHA-256 challenge, both base64url. */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/**
 * Zoom's user-level OAuth (docs/ZOOM-FACTS.md, "OAuth for user-level apps"): authorize URL, code exchange with PKCE,
 * refresh (Zoom rotates the refresh token), /v2/users/me, revoke. Nothing here logs; errors carry statuses only.
 */
export class ZoomOAuthClient {
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(private readonly o: ZoomOAuthClientOptions) {
    this.timeoutMs = o.timeoutMs ?? 10_000;
    this.now = o.now ?? Date.now;
  }

  authorizeUrl(input: { state: string; codeChallenge: string; redirectUri: string }): string {
    const u = new URL(`${this.o.oauthBaseUrl}/oauth/authorize`);
    u.searchParams.set('response_type', 'code');
    u.searchParams.set('client_id', this.o.clientId);
    u.searchParams.set('redirect_uri', input.redirectUri);
    u.searchParams.set('state', input.state);
    u.searchParams.set('code_challenge', input.codeChallenge);
    u.searchParams.set('code_challenge_method', 'S256');
    return u.toString();
  }

  exchangeCode(input: { code: string; codeVerifier: string; redirectUri: string }): Promise<TokenSet> {
    return this.token({
      grant_type: 'authorization_code',
      code: input.code,
      redirect_uri: input.redirectUri,
      code_verifier: input.codeVerifier,
    });
  }

  refresh(refreshToken: string): Promise<TokenSet> {
    return this.token({ grant_type: 'refresh_token', refresh_token: refreshToken });
  }

  async me(accessToken: string): Promise<ZoomUser> {
    const res = await this.call(`${this.o.apiBaseUrl}/users/me`, {
      headers: { authorization: `Bearer ${accessToken}` },
    });
    if (res.status === 401) throw new OAuthGrantRejectedError(401);
    if (!res.ok) throw new OAuthUnavailableError(`GET /v2/users/me answered HTTP ${res.status}`);
    const body = (await res.json()) as Record<string, unknown>;
    if (typeof body.id !== 'string' || typeof body.account_id !== 'string')
      throw new OAuthUnavailableError('GET /v2/users/me: no id or account_id');
    return {
      id: body.id,
      accountId: body.account_id,
      ...(typeof body.email === 'string' ? { email: body.email } : {}),
    };
  }

  /** Revokes the grant (an access token revokes the app's authorization for that user). */
  async revoke(token: string): Promise<void> {
    const res = await this.call(`${this.o.oauthBaseUrl}/oauth/revoke`, {
      method: 'POST',
      headers: { authorization: this.basic(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }).toString(),
    });
    // An already invalid token is as revoked as it gets.
    if (!res.ok && res.status !== 400 && res.status !== 401)
      throw new OAuthUnavailableError(`POST /oauth/revoke answered HTTP ${res.status}`);
  }

  private async token(params: Record<string, string>): Promise<TokenSet> {
    const res = await this.call(`${this.o.oauthBaseUrl}/oauth/token`, {
      method: 'POST',
      headers: { authorization: this.basic(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params).toString(),
    });
    if (res.status === 400 || res.status === 401) throw new OAuthGrantRejectedError(res.status);
    if (!res.ok) throw new OAuthUnavailableError(`POST /oauth/token answered HTTP ${res.status}`);
    const body = (await res.json()) as Record<string, unknown>;
    if (
      typeof body.access_token !== 'string' ||
      typeof body.refresh_token !== 'string' ||
      typeof body.expires_in !== 'number'
    ) {
      throw new OAuthUnavailableError('POST /oauth/token: the answer lacks access_token, refresh_token or expires_in');
    }
    return {
      accessToken: body.access_token,
      refreshToken: body.refresh_token,
      expiresAt: this.now() + body.expires_in * 1000,
      scope: typeof body.scope === 'string' ? body.scope : '',
    };
  }

  private basic(): string {
    return `Basic ${Buffer.from(`${this.o.clientId}:${this.o.clientSecret}`).toString('base64')}`;
  }

  private async call(url: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      throw new OAuthUnavailableError(`${new URL(url).host} unreachable (${(err as Error).name})`);
    }
  }
}
