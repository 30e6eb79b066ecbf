import type { FastifyRequest } from 'fastify';
import { authorize } from './reconcile.controller';

const request = (remoteAddress: string, headers: Record<string, string> = {}): FastifyRequest =>
  ({ headers, raw: { socket: { remoteAddress } } }) as unknown as FastifyRequest;
const status = (f: () => void): number | undefined => {
  try {
    f();
    return undefined;
  } catch (err) {
    return (err as { status?: number }).status;
  }
};

describe('reconcile endpoints: who may call them', () => {
  it('without RECONCILE_ADMIN_TOKEN: loopback clients only, and not through a forwarding proxy', () => {
    expect(status(() => authorize(request('127.0.0.1'), undefined))).toBeUndefined();
    expect(status(() => authorize(request('::1'), undefined))).toBeUndefined();
    expect(status(() => authorize(request('::ffff:127.0.0.1'), undefined))).toBeUndefined();
    expect(status(() => authorize(request('203.0.113.9'), undefined))).toBe(403);
    expect(status(() => authorize(request('127.0.0.1', { 'x-forwarded-for': '203.0.113.9' }), undefined))).toBe(403);
  });

  it('with RECONCILE_ADMIN_TOKEN: the Bearer token from anywhere, nothing without it (not even loopback)', () => {
    expect(
      status(() => authorize(request('203.0.113.9', { authorization: 'Bearer s3cret-admin' }), 's3cret-admin')),
    ).toBeUndefined();
    expect(status(() => authorize(request('127.0.0.1'), 's3cret-admin'))).toBe(401);
    expect(
      status(() => authorize(request('203.0.113.9', { authorization: 'Bearer s3cret-admiN' }), 's3cret-admin')),
    ).toBe(401);
    let message = '';
    try {
      authorize(request('203.0.113.9', { authorization: 'Bearer wrong' }), 's3cret-admin');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).not.toContain('s3cret');
    expect(message).not.toContain('wrong');
  });
});
