import type { FastifyRequest } from 'fastify';
import { authorizeAdminRequest } from './admin-auth';
import { HttpError } from './http-error';

const request = (remoteAddress: string, headers: Record<string, string> = {}): FastifyRequest =>
  ({ headers, raw: { socket: { remoteAddress } } }) as unknown as FastifyRequest;
const refusal = (req: FastifyRequest, token: string | undefined): HttpError | undefined => {
  try {
    authorizeAdminRequest(req, { token, setting: 'EXAMPLE_TOKEN', what: 'the example endpoints' });
    return undefined;
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    return err;
  }
};
const TOKEN = 's3cret-admin';

describe('authorizeAdminRequest', () => {
  describe('with a token', () => {
    it('accepts the Bearer token from anywhere (scheme case-insensitive)', () => {
      expect(refusal(request('203.0.113.9', { authorization: `Bearer ${TOKEN}` }), TOKEN)).toBeUndefined();
      expect(refusal(request('203.0.113.9', { authorization: `bearer ${TOKEN}` }), TOKEN)).toBeUndefined();
    });

    it.each([
      ['missing', {}],
      ['wrong, same length', { authorization: 'Bearer s3cret-admiN' }],
      ['wrong, shorter', { authorization: 'Bearer s3cret' }],
      ['a prefix of it plus more', { authorization: `Bearer ${TOKEN}x` }],
      ['another scheme', { authorization: `Basic ${TOKEN}` }],
    ])('refuses a %s token with 401, even from loopback', (_, headers: Record<string, string>) => {
      const err = refusal(request('127.0.0.1', headers), TOKEN);
      expect(err).toMatchObject({ status: 401, code: 'unauthorized', headers: { 'www-authenticate': 'Bearer' } });
      expect(err!.message).toBe('the example endpoints need Authorization: Bearer <EXAMPLE_TOKEN>');
    });

    it('never puts the configured or the presented token in the error', () => {
      const err = refusal(request('203.0.113.9', { authorization: 'Bearer wrong-guess' }), TOKEN);
      expect(err!.message).not.toContain('s3cret');
      expect(err!.message).not.toContain('wrong-guess');
      expect(JSON.stringify(err!.headers)).not.toContain('s3cret');
    });
  });

  describe('without a token', () => {
    it.each(['127.0.0.1', '127.8.9.1', '::1', '::ffff:127.0.0.1'])('accepts loopback %s', (addr) => {
      expect(refusal(request(addr), undefined)).toBeUndefined();
    });

    it.each(['203.0.113.9', '10.0.0.7', '::ffff:10.0.0.7', ''])('refuses %p with 403 naming the setting', (addr) => {
      const err = refusal(request(addr), undefined);
      expect(err).toMatchObject({ status: 403, code: 'forbidden' });
      expect(err!.message).toBe(
        'the example endpoints answer loopback clients only; set EXAMPLE_TOKEN to call them from elsewhere',
      );
    });

    it.each<Record<string, string>>([{ 'x-forwarded-for': '203.0.113.9' }, { forwarded: 'for=203.0.113.9' }])(
      'refuses loopback behind a forwarding proxy (%p) with 403',
      (headers) => {
        expect(refusal(request('127.0.0.1', headers), undefined)).toMatchObject({ status: 403, code: 'forbidden' });
      },
    );
  });
});
