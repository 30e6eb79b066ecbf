import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { HttpError } from './http-error';

export interface AdminAuthOptions {
  /** The configured Bearer token; undefined: loopback clients only. */
  token: string | undefined;
  /** The setting that holds the token, named in the errors (never its value). */
  setting: string;
  /** What is being refused, e.g. `the reconcile endpoints`. */
  what: string;
}

/**
 * Endpoints for an operator or the product's backend, on a port that in standalone mode also faces Zoom: with a token,
 * `Authorization: Bearer <token>` from anywhere (compared in constant time; never echoed), nothing without it; without
 * one, loopback clients only, and not through a forwarding proxy. 401 `unauthorized` / 403 `forbidden` otherwise.
 */
export function authorizeAdminRequest(req: FastifyRequest, { token, setting, what }: AdminAuthOptions): void {
  if (token !== undefined) {
    const presented = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
    // Digests of equal length: the comparison time says nothing about the token, not even its length.
    if (presented !== undefined && timingSafeEqual(sha256(presented), sha256(token))) return;
    throw new HttpError(401, 'unauthorized', `${what} need Authorization: Bearer <${setting}>`, {
      'www-authenticate': 'Bearer',
    });
  }
  const remote = req.raw.socket?.remoteAddress ?? '';
  const loopback = remote === '::1' || remote.startsWith('127.') || remote.startsWith('::ffff:127.');
  // A local reverse proxy would make every client look like loopback: its forwarding header gives it away.
  if (!loopback || req.headers['x-forwarded-for'] !== undefined || req.headers.forwarded !== undefined) {
    throw new HttpError(
      403,
      'forbidden',
      `${what} answer loopback clients only; set ${setting} to call them from elsewhere`,
    );
  }
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();
