import { MemoryAttendanceStore } from '@zoom-pipeline/attendance-store';
import type { AppConfig } from '@zoom-pipeline/config';
import { HttpError } from '@zoom-pipeline/service-kit';
import type { FastifyRequest } from 'fastify';
import type { AttendanceRegistrar } from './attendance-registrar';
import { AttendanceController, parseRegistration } from './attendance.controller';

describe('PUT /attendance/registrants body', () => {
  it('takes exactly one identifier; emails are compared lower-cased', () => {
    expect(parseRegistration({ meetingId: 85746065123, email: 'Ana@Example.com', appUserId: 'u1' })).toEqual({
      meetingId: '85746065123',
      kind: 'email',
      value: 'ana@example.com',
      appUserId: 'u1',
    });
    expect(parseRegistration({ meetingId: '85746065123', registrantId: 'R1', appUserId: 'u1' })).toEqual({
      meetingId: '85746065123',
      kind: 'registrant',
      value: 'R1',
      appUserId: 'u1',
    });
    expect(parseRegistration({ meetingId: '1', customerKey: 'ck', appUserId: 'u1' }).kind).toBe('customer_key');
  });

  it.each([
    [null, 'the body must be a JSON object'],
    [{ registrantId: 'R', appUserId: 'u' }, 'meetingId is required'],
    [{ meetingId: 'abc', registrantId: 'R', appUserId: 'u' }, "meetingId must be Zoom's numeric meeting id"],
    [{ meetingId: '1', registrantId: 'R' }, 'appUserId is required'],
    [{ meetingId: '1', appUserId: 'u' }, 'give exactly one of registrantId, customerKey, email'],
    [
      { meetingId: '1', registrantId: 'R', email: 'a@b.c', appUserId: 'u' },
      'give exactly one of registrantId, customerKey, email',
    ],
    [{ meetingId: '1', email: 'nope', appUserId: 'u' }, 'email is not an email address'],
    [
      { meetingId: '1', registrantId: '', appUserId: 'u' },
      'registrantId must be a non-empty string of at most 256 characters',
    ],
  ])('%p → 400 %p', (body, message) => {
    let err: unknown;
    try {
      parseRegistration(body);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HttpError);
    expect(err).toMatchObject({ status: 400, code: 'bad_request', message });
  });
});

describe('attendance endpoints: who may call them', () => {
  const TOKEN = 'backend-s3cret';
  const registration = { meetingId: '85746065123', registrantId: 'R1', appUserId: 'u1' };
  const signUp = { meetingId: '85746065123', appUserId: 'u1', email: 'ana@example.com', firstName: 'Ana' };
  const request = (remoteAddress: string, headers: Record<string, string> = {}, body: object = registration) =>
    ({
      headers: { 'content-type': 'application/json', ...headers },
      body: Buffer.from(JSON.stringify(body)),
      raw: { socket: { remoteAddress } },
    }) as unknown as FastifyRequest;
  const setup = (apiToken: string | undefined) => {
    const store = new MemoryAttendanceStore();
    const put = jest.spyOn(store, 'putRegistration');
    const register = jest.fn(async () => ({ registrantId: 'R1', joinUrl: 'https://zoom.us/w/1' }));
    const config = { attendance: { apiToken } } as unknown as AppConfig;
    const controller = new AttendanceController(store, { register } as unknown as AttendanceRegistrar, config);
    // The three routes, each answering with the refusal (or undefined when it got past the check).
    const calls = (req: FastifyRequest, signUpReq: FastifyRequest = req) => ({
      put: () => controller.putRegistrant(req),
      register: () => controller.register(signUpReq),
      meeting: () => controller.meeting(req, 'unknown=='),
    });
    return { put, register, calls };
  };
  const refusal = async (f: () => Promise<unknown>): Promise<HttpError | undefined> => {
    try {
      await f();
      return undefined;
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      return err;
    }
  };

  it.each(['put', 'register', 'meeting'] as const)(
    'with ATTENDANCE_API_TOKEN, %s answers 401 without the Bearer token (even from loopback) and does nothing',
    async (route) => {
      const { put, register, calls } = setup(TOKEN);
      const attempts: Array<Record<string, string>> = [{}, { authorization: 'Bearer backend-s3creT' }];
      for (const headers of attempts) {
        const err = await refusal(calls(request('127.0.0.1', headers), request('127.0.0.1', headers, signUp))[route]);
        expect(err).toMatchObject({
          status: 401,
          code: 'unauthorized',
          message: 'the attendance endpoints need Authorization: Bearer <ATTENDANCE_API_TOKEN>',
        });
        expect(err!.message).not.toContain('s3cre');
      }
      expect(put).not.toHaveBeenCalled();
      expect(register).not.toHaveBeenCalled();
    },
  );

  it('with ATTENDANCE_API_TOKEN, the Bearer token works from any address', async () => {
    const { put, register, calls } = setup(TOKEN);
    const bearer = { authorization: `Bearer ${TOKEN}` };
    const routes = calls(request('203.0.113.9', bearer), request('203.0.113.9', bearer, signUp));
    expect(await routes.put()).toEqual({ meetingId: '85746065123', kind: 'registrant', value: 'R1', appUserId: 'u1' });
    expect(put).toHaveBeenCalledTimes(1);
    expect(await routes.register()).toEqual({ registrantId: 'R1', joinUrl: 'https://zoom.us/w/1' });
    expect(register).toHaveBeenCalledWith(signUp);
    expect(await refusal(routes.meeting)).toMatchObject({ status: 404, code: 'meeting_not_found' });
  });

  it.each(['put', 'register', 'meeting'] as const)(
    'without ATTENDANCE_API_TOKEN, %s answers 403 to a non-loopback client or through a forwarding proxy',
    async (route) => {
      const { put, register, calls } = setup(undefined);
      for (const [addr, headers] of [
        ['203.0.113.9', {}],
        ['127.0.0.1', { 'x-forwarded-for': '203.0.113.9' }],
      ] as const) {
        const routes = calls(request(addr, headers), request(addr, headers, signUp));
        expect(await refusal(routes[route])).toMatchObject({
          status: 403,
          code: 'forbidden',
          message: expect.stringMatching(
            /^the attendance endpoints answer loopback clients only; set ATTENDANCE_API_TOKEN/,
          ),
        });
      }
      expect(put).not.toHaveBeenCalled();
      expect(register).not.toHaveBeenCalled();
    },
  );

  it('without ATTENDANCE_API_TOKEN, loopback clients are served', async () => {
    const { put, register, calls } = setup(undefined);
    const routes = calls(request('::1'), request('::1', {}, signUp));
    await routes.put();
    expect(put).toHaveBeenCalledTimes(1);
    await routes.register();
    expect(register).toHaveBeenCalledTimes(1);
    expect(await refusal(routes.meeting)).toMatchObject({ status: 404, code: 'meeting_not_found' });
  });
});
