import { parseAccountLinkEvent } from './account-link';

describe('parseAccountLinkEvent', () => {
  const ok = { zoomUserId: 'z', accountId: 'a', appUserId: 'u', status: 'linked', at: '2026-12-03T10:00:00.000Z' };

  it('reads a valid event', () => {
    expect(parseAccountLinkEvent(Buffer.from(JSON.stringify(ok)))).toEqual(ok);
  });

  it('refuses an unknown status, a bad time or a missing id', () => {
    expect(() => parseAccountLinkEvent(JSON.stringify({ ...ok, status: 'pending' }))).toThrow(/status/);
    expect(() => parseAccountLinkEvent(JSON.stringify({ ...ok, at: 'yesterday' }))).toThrow(/at/);
    expect(() => parseAccountLinkEvent(JSON.stringify({ ...ok, appUserId: undefined }))).toThrow(/appUserId/);
  });
});
