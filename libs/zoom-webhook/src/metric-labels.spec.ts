import { eventLabel, fileTypeLabel } from './metric-labels';

describe('metric labels from closed sets', () => {
  it('keeps known Zoom events and counts every other name, however well-formed, as other', () => {
    expect(eventLabel('recording.completed')).toBe('recording.completed');
    expect(eventLabel('meeting.participant_left')).toBe('meeting.participant_left');
    expect(eventLabel('recording.completed2')).toBe('other');
    expect(eventLabel('a'.repeat(5_000))).toBe('other');
    expect(eventLabel('constructor')).toBe('other');
    expect(eventLabel(undefined)).toBe('other');
  });

  it('keeps known file types (upper-cased) and maps the rest, long or odd, to other', () => {
    expect(fileTypeLabel('MP4')).toBe('MP4');
    expect(fileTypeLabel('transcript')).toBe('TRANSCRIPT');
    expect(fileTypeLabel('X'.repeat(5_000))).toBe('other');
    expect(fileTypeLabel('MP5')).toBe('other');
    expect(fileTypeLabel('')).toBe('other');
    expect(fileTypeLabel(undefined)).toBe('other');
  });

  it('gives at most one series per known value plus other, whatever a stream of events says', () => {
    const labels = new Set(Array.from({ length: 200 }, (_, i) => fileTypeLabel(`T${i}`)));
    expect([...labels]).toEqual(['other']);
  });
});
