import type { AttendanceMeetingSummary, AttendanceSession } from '@zoom-pipeline/contracts';
import { type AttendanceStore, type MeetingView, type Registration, registrationField } from '../attendance-store.port';

/** Plain maps; also the in-memory half of the embedded adapter. */
export class MemoryAttendanceStore implements AttendanceStore {
  protected readonly regs = new Map<string, Map<string, string>>();
  protected readonly linkMap = new Map<string, string>();
  protected readonly sessions = new Map<string, Map<string, AttendanceSession>>();
  protected readonly summaries = new Map<string, Map<number, AttendanceMeetingSummary>>();

  async putRegistration(r: Registration): Promise<void> {
    this.applyRegistration(r);
  }
  protected applyRegistration(r: Registration): void {
    const m = this.regs.get(r.meetingId) ?? new Map<string, string>();
    m.set(registrationField(r.kind, r.value), r.appUserId);
    this.regs.set(r.meetingId, m);
  }
  async registrations(meetingId: string, fields?: readonly string[]): Promise<Map<string, string>> {
    const all = this.regs.get(meetingId) ?? new Map<string, string>();
    if (!fields) return new Map(all);
    const out = new Map<string, string>();
    for (const f of fields) {
      const v = all.get(f);
      if (v) out.set(f, v);
    }
    return out;
  }
  async putLink(zoomUserId: string, appUserId: string | null): Promise<void> {
    this.applyLink(zoomUserId, appUserId);
  }
  protected applyLink(zoomUserId: string, appUserId: string | null): void {
    if (appUserId === null) this.linkMap.delete(zoomUserId);
    else this.linkMap.set(zoomUserId, appUserId);
  }
  async links(zoomUserIds: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const z of zoomUserIds) {
      const a = this.linkMap.get(z);
      if (a) out.set(z, a);
    }
    return out;
  }
  async saveSessions(sessions: readonly AttendanceSession[]): Promise<void> {
    this.applySessions(sessions);
  }
  protected applySessions(sessions: readonly AttendanceSession[]): void {
    for (const s of sessions) {
      const m = this.sessions.get(s.meetingUuid) ?? new Map<string, AttendanceSession>();
      m.set(s.id, s);
      this.sessions.set(s.meetingUuid, m);
    }
  }
  async saveSummaries(parts: readonly AttendanceMeetingSummary[]): Promise<void> {
    this.applySummaries(parts);
  }
  protected applySummaries(parts: readonly AttendanceMeetingSummary[]): void {
    for (const p of parts) {
      const m = this.summaries.get(p.meetingUuid) ?? new Map<number, AttendanceMeetingSummary>();
      m.set(p.part, p);
      this.summaries.set(p.meetingUuid, m);
    }
  }
  async meeting(meetingUuid: string): Promise<MeetingView | null> {
    const s = this.sessions.get(meetingUuid);
    const p = this.summaries.get(meetingUuid);
    if (!s && !p) return null;
    return {
      meetingUuid,
      sessions: [...(s?.values() ?? [])].sort((a, b) =>
        a.leftAt < b.leftAt ? -1 : a.leftAt > b.leftAt ? 1 : a.id < b.id ? -1 : 1,
      ),
      summary: [...(p?.values() ?? [])].sort((a, b) => a.part - b.part),
    };
  }
  async isReady(): Promise<boolean> {
    return true;
  }
  async close(): Promise<void> {}
}
