import { HttpError } from '@zoom-pipeline/service-kit';
import { parseRegistration } from './attendance.controller';

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
