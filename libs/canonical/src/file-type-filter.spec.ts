import { uploadFileTypeFilter } from './file-type-filter';

describe('uploadFileTypeFilter (UPLOAD_FILE_TYPES)', () => {
  it.each([undefined, '', ' ', ',', ' , '])('stores every type when the list is %j', (spec) => {
    const keep = uploadFileTypeFilter(spec);
    for (const t of ['MP4', 'M4A', 'TRANSCRIPT', 'CHAT', 'TIMELINE', 'SOMETHING_NEW', '']) expect(keep(t)).toBe(true);
  });

  it('stores only the listed types, case-insensitively and ignoring spaces', () => {
    const keep = uploadFileTypeFilter(' mp4, Transcript ,,');
    expect(['MP4', 'mp4', 'TRANSCRIPT', 'M4A', 'CHAT', ''].map(keep)).toEqual([true, true, true, false, false, false]);
  });

  it('accepts file types Zoom adds later (the set is open)', () => {
    expect(uploadFileTypeFilter('SUMMARY')('SUMMARY')).toBe(true);
  });
});
