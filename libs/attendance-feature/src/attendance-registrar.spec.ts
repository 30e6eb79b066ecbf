import { MemoryAttendanceStore } from '@zoom-pipeline/attendance-store';
import { HttpError } from '@zoom-pipeline/service-kit';
import { createLogger } from '@zoom-pipeline/telemetry';
import { type ZoomApiClient, ZoomApiError } from '@zoom-pipeline/zoom-api';
import { Writable } from 'node:stream';
import { AttendanceRegistrar, parseRegistrationRequest } from './attendance-registrar';

const logger = createLogger({
  name: 'test',
  level: 'silent',
  destination: new Writable({ write: (_c, _e, cb) => cb() }),
});
const body = { meetingId: 81234567890, appUserId: 'app-1', email: 'ana@example.com', firstName: 'Ana' };

function registrar(answer: () => Promise<{ registrantId: string; joinUrl: string }>) {
  const store = new MemoryAttendanceStore();
  const zoom = { addMeetingRegistrant: jest.fn(answer) } as unknown as ZoomApiClient;
  return { store, zoom, r: new AttendanceRegistrar(store, logger, zoom) };
}

describe('POST /attendance/registrations', () => {
  it('parses the body: numeric meetingId, email, firstName required, lastName optional', () => {
    expect(parseRegistrationRequest({ ...body, lastName: ' K ' })).toEqual({
      meetingId: '81234567890',
      appUserId: 'app-1',
      email: 'ana@example.com',
      firstName: 'Ana',
      lastName: 'K',
    });
    expect(() => parseRegistrationRequest({ ...body, firstName: undefined })).toThrow('firstName is required');
    expect(() => parseRegistrationRequest({ ...body, email: 'nope' })).toThrow('email is not an email address');
    expect(() => parseRegistrationRequest({ ...body, meetingId: 'abc' })).toThrow("meetingId must be Zoom's numeric");
  });

  it('registers with Zoom, maps the registrant to the app user, returns the join_url', async () => {
    const { r, store, zoom } = registrar(async () => ({ registrantId: 'REG1', joinUrl: 'https://zoom.us/w/1?tk=x' }));
    expect(await r.register(parseRegistrationRequest(body))).toEqual({
      meetingId: '81234567890',
      appUserId: 'app-1',
      registrantId: 'REG1',
      joinUrl: 'https://zoom.us/w/1?tk=x',
    });
    expect(zoom.addMeetingRegistrant).toHaveBeenCalledWith('81234567890', {
      email: 'ana@example.com',
      firstName: 'Ana',
    });
    expect(await store.registrations('81234567890')).toEqual(new Map([['r:REG1', 'app-1']]));
  });

  it.each([
    [
      new ZoomApiError('zoom_api_rejected', 'x', { retryable: false, status: 404, zoomCode: 3001 }),
      404,
      'zoom_meeting_not_found',
    ],
    [
      new ZoomApiError('zoom_api_rejected', 'x', { retryable: false, status: 400, zoomCode: 3000 }),
      422,
      'zoom_registration_refused',
    ],
    [new ZoomApiError('zoom_api_unauthorized', 'x', { retryable: false, status: 401 }), 502, 'zoom_unauthorized'],
    [new ZoomApiError('zoom_api_unavailable', 'x', { retryable: true, status: 503 }), 503, 'zoom_unavailable'],
    [new Error('S2S OAuth: network error'), 502, 'zoom_unavailable'],
  ])('Zoom failure %#: HTTP %p %p, nothing stored', async (err, status, code) => {
    const { r, store } = registrar(async () => {
      throw err;
    });
    const got = (await r.register(parseRegistrationRequest(body)).catch((e: unknown) => e)) as HttpError;
    expect(got).toBeInstanceOf(HttpError);
    expect([got.status, got.code]).toEqual([status, code]);
    expect((await store.registrations('81234567890')).size).toBe(0);
  });

  it('without S2S credentials: 503 zoom_api_not_configured', async () => {
    const r = new AttendanceRegistrar(new MemoryAttendanceStore(), logger, undefined);
    await expect(r.register(parseRegistrationRequest(body))).rejects.toMatchObject({
      status: 503,
      code: 'zoom_api_not_configured',
    });
  });
});
