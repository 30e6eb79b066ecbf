// The one contract every AttendanceStore adapter keeps: memory and embedded in the unit tier, Redis in
// test/integration. Jest is imported explicitly so this file type-checks outside jest too.
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from '@jest/globals';
import type { AttendanceMeetingSummary, AttendanceSession } from '@zoom-pipeline/contracts';
import type { AttendanceStore } from '../attendance-store.port';

export interface AttendanceStoreHarness {
  create(): Promise<AttendanceStore>;
  /** A restart on the same data (durable adapters only). */
  reopen?(): Promise<AttendanceStore>;
}

const id = () => randomBytes(6).toString('hex');

export function sampleSession(meetingUuid: string, n: number): AttendanceSession {
  const join = Date.parse('2026-01-15T10:00:00Z') + n * 1000;
  return {
    v: 1,
    id: `${meetingUuid}|p:${n}|${join}|${join + 60_000}`,
    meetingUuid,
    meetingId: '81234567890',
    room: 'main',
    identity: { kind: 'email', value: `p${n}@example.com` },
    participant: { email: `p${n}@example.com`, participantUuid: String(n) },
    joinedAt: new Date(join).toISOString(),
    leftAt: new Date(join + 60_000).toISOString(),
    seconds: 60,
    flags: [],
  };
}

export function describeAttendanceStoreContract(name: string, harness: AttendanceStoreHarness): void {
  describe(`AttendanceStore contract: ${name}`, () => {
    const opened: AttendanceStore[] = [];
    const create = async () => {
      const s = await harness.create();
      opened.push(s);
      return s;
    };
    afterAll(async () => {
      for (const s of new Set(opened)) await s.close();
    });

    it(
      'keeps registrations per meeting by registrant id, customer key ' +
        'and case-insensitive email; the last write wins',
      async () => {
        const store = await create();
        const meetingId = id();
        await store.putRegistration({ meetingId, kind: 'registrant', value: 'R1', appUserId: 'u1' });
        await store.putRegistration({ meetingId, kind: 'customer_key', value: 'C1', appUserId: 'u2' });
        await store.putRegistration({ meetingId, kind: 'email', value: 'Ana@Example.COM', appUserId: 'u3' });
        await store.putRegistration({ meetingId, kind: 'registrant', value: 'R1', appUserId: 'u4' });
        await store.putRegistration({ meetingId: id(), kind: 'registrant', value: 'R9', appUserId: 'other' });
        expect(Object.fromEntries(await store.registrations(meetingId))).toEqual({
          'r:R1': 'u4',
          'c:C1': 'u2',
          'e:ana@example.com': 'u3',
        });
        expect((await store.registrations(id())).size).toBe(0);
        expect(Object.fromEntries(await store.registrations(meetingId, ['r:R1', 'e:nobody@x', 'c:C1']))).toEqual({
          'r:R1': 'u4',
          'c:C1': 'u2',
        });
        expect((await store.registrations(meetingId, [])).size).toBe(0);
      },
    );

    it('links and unlinks Zoom users', async () => {
      const store = await create();
      const [a, b, c] = [id(), id(), id()];
      await store.putLink(a, 'ua');
      await store.putLink(b, 'ub');
      await store.putLink(b, null);
      expect(Object.fromEntries(await store.links([a, b, c]))).toEqual({ [a]: 'ua' });
      expect((await store.links([])).size).toBe(0);
    });

    it('keeps a meeting view; saving the same sessions and parts again changes nothing', async () => {
      const store = await create();
      const uuid = `/${id()}//==`;
      expect(await store.meeting(uuid)).toBeNull();
      const sessions = [sampleSession(uuid, 2), sampleSession(uuid, 1)];
      await store.saveSessions(sessions);
      await store.saveSessions(sessions);
      const summary: AttendanceMeetingSummary = {
        v: 1,
        meetingUuid: uuid,
        meetingId: '81234567890',
        endedAt: '2026-01-15T11:00:00.000Z',
        part: 1,
        parts: 1,
        people: [],
      };
      await store.saveSummaries([summary, summary]);
      expect(await store.meeting(uuid)).toEqual({
        meetingUuid: uuid,
        sessions: [sessions[1], sessions[0]],
        summary: [summary],
      });
      expect(await store.isReady()).toBe(true);
    });

    if (harness.reopen) {
      it('survives a restart', async () => {
        const store = await create();
        const meetingId = id();
        const uuid = id();
        await store.putRegistration({ meetingId, kind: 'email', value: 'x@y.z', appUserId: 'u' });
        await store.putLink(meetingId, 'linked');
        await store.saveSessions([sampleSession(uuid, 1)]);
        const again = await harness.reopen!();
        opened.push(again);
        expect(Object.fromEntries(await again.registrations(meetingId))).toEqual({ 'e:x@y.z': 'u' });
        expect(Object.fromEntries(await again.links([meetingId]))).toEqual({ [meetingId]: 'linked' });
        expect((await again.meeting(uuid))?.sessions).toEqual([sampleSession(uuid, 1)]);
      });
    }
  });
}
