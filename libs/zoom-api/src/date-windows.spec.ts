import { splitIntoWindows } from './date-windows';

describe('splitIntoWindows', () => {
  it('splits a 90-day range into consecutive windows of at most 30 days that cover every day once', () => {
    const windows = splitIntoWindows('2026-01-01', '2026-03-31');
    expect(windows).toEqual([
      { from: '2026-01-01', to: '2026-01-30' },
      { from: '2026-01-31', to: '2026-03-01' },
      { from: '2026-03-02', to: '2026-03-31' },
    ]);
  });

  it('keeps a short range as one window, including a single day', () => {
    expect(splitIntoWindows('2026-02-10', '2026-02-12')).toEqual([{ from: '2026-02-10', to: '2026-02-12' }]);
    expect(splitIntoWindows('2026-02-10', '2026-02-10')).toEqual([{ from: '2026-02-10', to: '2026-02-10' }]);
  });

  it('refuses reversed ranges and dates that are not calendar days', () => {
    expect(() => splitIntoWindows('2026-03-01', '2026-02-01')).toThrow(/after/);
    expect(() => splitIntoWindows('2026-02-30', '2026-03-01')).toThrow(/calendar day/);
    expect(() => splitIntoWindows('yesterday', '2026-03-01')).toThrow(/calendar day/);
  });
});
