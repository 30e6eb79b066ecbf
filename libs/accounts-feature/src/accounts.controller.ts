import { createHash, timingSafeEqual } from 'node:crypto';
import { Controller, Delete, Get, Inject, Param, Post, Req, Res } from '@nestjs/common';
import { type AppConfig, CONFIG } from '@zoom-pipeline/config';
import { HttpError, sendError } from '@zoom-pipeline/service-kit';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AccountsService } from './accounts.service';

/**
 * The four calls of a product backend (bearer ACCOUNTS_API_TOKEN) and Zoom's browser redirect:
 *   POST   /accounts/links                {appUserId, returnUrl, level?} → 201 {authorizeUrl, expiresAt}
 *   GET    /oauth/zoom/callback?code&state → 302 returnUrl?zoom_link_code=…
 *   POST   /accounts/links/confirm        {code, appUserId} → 200 link
 *   GET    /accounts/links/:appUserId     → 200 link | 404
 *   DELETE /accounts/links/:appUserId     → 204 (revoked at Zoom, tokens deleted)
 */
@Controller()
export class AccountsController {
  private readonly tokenDigest: Buffer;

  constructor(
    private readonly accounts: AccountsService,
    @Inject(CONFIG) config: AppConfig,
  ) {
    this.tokenDigest = sha256(config.accounts?.apiToken ?? '');
  }

  @Post('accounts/links')
  async start(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    await this.answer(reply, 201, async () => {
      this.authenticate(req);
      return this.accounts.start(jsonBody(req));
    });
  }

  @Post('accounts/links/confirm')
  async confirm(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    await this.answer(reply, 200, async () => {
      this.authenticate(req);
      return this.accounts.confirm(jsonBody(req));
    });
  }

  @Get('accounts/links/:appUserId')
  async get(
    @Param('appUserId') appUserId: string,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await this.answer(reply, 200, async () => {
      this.authenticate(req);
      return this.accounts.get(appUserId);
    });
  }

  @Delete('accounts/links/:appUserId')
  async unlink(
    @Param('appUserId') appUserId: string,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await this.answer(reply, 204, async () => {
      this.authenticate(req);
      await this.accounts.unlink(appUserId);
      return undefined;
    });
  }

  /** The browser comes back from Zoom here: no bearer, the state is the credential. */
  @Get('oauth/zoom/callback')
  async callback(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const q = (req.query ?? {}) as Record<string, unknown>;
    const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
    try {
      const location = await this.accounts.callback({ code: str(q.code), state: str(q.state), error: str(q.error) });
      void reply
        .code(302)
        .header('location', location)
        .header('cache-control', 'no-store')
        .header('referrer-policy', 'no-referrer')
        .send();
    } catch (err) {
      sendError(reply.header('cache-control', 'no-store'), asHttpError(err));
    }
  }

  private authenticate(req: FastifyRequest): void {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    // Digests of equal length: the comparison time says nothing about the token.
    if (m === null || !timingSafeEqual(sha256(m[1]), this.tokenDigest)) {
      throw new HttpError(401, 'unauthorized', 'a valid bearer token (ACCOUNTS_API_TOKEN) is required', {
        'www-authenticate': 'Bearer',
      });
    }
  }

  private async answer(reply: FastifyReply, status: number, fn: () => Promise<unknown>): Promise<void> {
    try {
      const body = await fn();
      void reply.code(status).header('cache-control', 'no-store');
      if (body === undefined) void reply.send();
      else void reply.type('application/json; charset=utf-8').send(JSON.stringify(body));
    } catch (err) {
      sendError(reply, asHttpError(err));
    }
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function jsonBody(req: FastifyRequest): unknown {
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? ''))
    throw new HttpError(415, 'unsupported_media_type', 'the content type must be application/json');
  try {
    return JSON.parse(Buffer.isBuffer(req.body) ? req.body.toString('utf8') : String(req.body ?? ''));
  } catch {
    throw new HttpError(400, 'body_not_json', 'the body is not JSON');
  }
}

function asHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  const code = (err as { code?: unknown }).code;
  if (code === 'accounts_store_unavailable')
    return new HttpError(503, 'store_unavailable', 'the accounts store is unavailable; retry later', {
      'retry-after': '5',
    });
  return new HttpError(500, 'internal_error', 'internal error; see the service log');
}
