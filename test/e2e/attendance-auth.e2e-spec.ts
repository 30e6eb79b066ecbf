/**
 * The attendance endpoints with ATTENDANCE_API_TOKEN set, in standalone (the mode whose port also faces Zoom):
 * nothing without the Bearer token, not even from loopback, and the token never in an answer or the log.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type AppProcess, startApp } from '@zoom-pipeline/test-support';

jest.setTimeout(120_000);

const TOKEN = 'attendance-e2e-api-s3cret';
const registration = { meetingId: '85746065123', registrantId: 'R-auth-1', appUserId: 'app-user-1' };
let dataDir: string;
let app: AppProcess;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zp-attendance-auth-'));
  app = await startApp(
    'standalone',
    { DATA_DIR: dataDir, ZOOM_WEBHOOK_SECRET_TOKEN: 'attendance-auth-webhook-secret', ATTENDANCE_API_TOKEN: TOKEN },
    { waitFor: 'readyz' },
  );
});

afterAll(async () => {
  await app?.kill('SIGTERM');
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

const put = (headers: Record<string, string>) =>
  fetch(`${app.url}/attendance/registrants`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(registration),
  });
const meeting = (headers: Record<string, string>) =>
  fetch(`${app.url}/attendance/meetings/${encodeURIComponent('/Gx2k7+Rq0S1o9Lb//nYQw==')}`, { headers });

describe('attendance endpoints with ATTENDANCE_API_TOKEN (standalone)', () => {
  it('answer 401 without the token or with a wrong one, even from loopback', async () => {
    const attempts: Array<Record<string, string>> = [{}, { authorization: 'Bearer attendance-e2e-api-s3creT' }];
    for (const headers of attempts) {
      for (const res of [await put(headers), await meeting(headers)]) {
        const text = await res.text();
        expect([res.status, res.headers.get('www-authenticate')]).toEqual([401, 'Bearer']);
        expect(JSON.parse(text)).toEqual({
          error: 'unauthorized',
          message: 'the attendance endpoints need Authorization: Bearer <ATTENDANCE_API_TOKEN>',
        });
        expect(text).not.toContain('s3cre');
      }
    }
  });

  it('serve a caller with the token', async () => {
    const bearer = { authorization: `Bearer ${TOKEN}` };
    const res = await put(bearer);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      meetingId: '85746065123',
      kind: 'registrant',
      value: 'R-auth-1',
      appUserId: 'app-user-1',
    });
    const none = await meeting(bearer);
    expect([none.status, ((await none.json()) as { error: string }).error]).toEqual([404, 'meeting_not_found']);
    expect(app.output()).not.toContain(TOKEN);
  });
});
