import {
  CREDENTIALS_MISSING_MESSAGE,
  type FileWorkItem,
  decodeFileWorkItem,
  decodeUploadFailure,
  hasNoDownloadToken,
  withoutCredentials,
} from './recording-file';
import { ContractViolation } from './validate';

const item: FileWorkItem = {
  v: 1,
  fileId: 'derived-0123',
  canonicalId: 'c',
  app: 'default',
  accountId: 'a',
  meetingUuid: 'm==',
  meetingId: '1',
  topic: 't',
  hostId: 'h',
  meetingStartTime: 's',
  recordingStart: 's',
  recordingEnd: 'e',
  fileType: 'CC',
  fileExtension: 'VTT',
  fileSize: 0,
  sizeUnknown: true,
  fileStatus: 'processing',
  downloadUrl: 'https://a/1',
  downloadToken: 'own-token',
  tokenReceivedAt: 'r',
  alternates: [{ downloadUrl: 'https://a/2', downloadToken: 'other-token', receivedAt: 'r2' }],
};

describe('FileWorkItem contract', () => {
  it('round-trips the optional fields; alternates (credentials of other copies) only when asked for', () => {
    const json = JSON.stringify(item);
    expect(decodeFileWorkItem(json, { alternates: true })).toEqual(item);
    const { alternates: _a, ...plain } = item;
    expect(decodeFileWorkItem(json)).toEqual(plain);
  });

  it('reads an item written before these fields existed', () => {
    const { sizeUnknown: _s, fileStatus: _f, alternates: _a, ...old } = item;
    expect(decodeFileWorkItem(JSON.stringify({ ...old, fileSize: 10 }))).toEqual({ ...old, fileSize: 10 });
  });

  it('rejects malformed optional fields with a contract violation', () => {
    expect(() => decodeFileWorkItem(JSON.stringify({ ...item, sizeUnknown: false }))).toThrow(ContractViolation);
    expect(() => decodeFileWorkItem(JSON.stringify({ ...item, alternates: {} }), { alternates: true })).toThrow(
      ContractViolation,
    );
    expect(() =>
      decodeFileWorkItem(JSON.stringify({ ...item, alternates: [{ downloadUrl: 1 }] }), { alternates: true }),
    ).toThrow(ContractViolation);
  });

  it('withoutCredentials removes every token, own and alternates', () => {
    const text = JSON.stringify(withoutCredentials(item));
    expect(text).not.toContain('own-token');
    expect(text).not.toContain('other-token');
    expect(text).toContain('https://a/1');
  });

  it('hasNoDownloadToken is true only when no delivery carried a token', () => {
    expect(hasNoDownloadToken(item)).toBe(false);
    const { downloadToken: _t, ...noOwn } = item;
    expect(hasNoDownloadToken(noOwn)).toBe(false);
    expect(hasNoDownloadToken({ ...noOwn, alternates: [{ downloadUrl: 'u', receivedAt: 'r' }] })).toBe(true);
  });

  it('the credentials-missing message names what to configure', () => {
    for (const name of ['ZOOM_ACCOUNT_ID', 'ZOOM_CLIENT_ID', 'ZOOM_CLIENT_SECRET', 'link a Zoom user'])
      expect(CREDENTIALS_MISSING_MESSAGE).toContain(name);
  });

  it('decodes failures with the new reasons and refuses unknown reasons', () => {
    const f = {
      v: 1,
      fileId: 'f',
      canonicalId: 'c',
      reason: 'download_url_missing',
      message: 'm',
      attempts: 0,
      failedAt: 't',
      item: withoutCredentials(item),
    };
    expect(decodeUploadFailure(JSON.stringify(f))).toEqual(f);
    expect(() => decodeUploadFailure(JSON.stringify({ ...f, reason: 'whatever' }))).toThrow(ContractViolation);
    // Every reason the uploader dead-letters with decodes (they were missing from the decoder's list).
    for (const reason of [
      'retry_budget_exhausted',
      'object_key_collision',
      'object_key_rejected',
      'metadata_rejected',
    ]) {
      expect(decodeUploadFailure(JSON.stringify({ ...f, reason })).reason).toBe(reason);
    }
  });
});
