import { runCli } from './cli';
import { type CommandContext } from './command-context';

function context(fetchImpl: typeof fetch): CommandContext & { out: string[]; err: string[]; progress: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const progress: string[] = [];
  return {
    out,
    err,
    progress,
    io: { out: (l) => out.push(l), err: (l) => err.push(l), progress: (p) => p !== undefined && progress.push(p) },
    env: { PORT: '9999' },
    cwd: '/',
    repoRoot: undefined,
    readStdin: () => Promise.resolve(''),
    fetchImpl,
  };
}

const run = (over: Record<string, unknown>) => ({
  runId: 'r1',
  status: 'running',
  from: '2026-01-01',
  to: '2026-03-31',
  windows: 1,
  pages: 1,
  meetingsListed: 300,
  filesFound: 900,
  alreadyStored: 600,
  missing: 300,
  queued: 300,
  queuedBytes: 3 * 1024 ** 3,
  inFlight: 0,
  notReady: 0,
  filtered: 0,
  unfetchable: 0,
  apiRequests: 2,
  dryRun: false,
  startedAt: '2026-12-03T10:00:00.000Z',
  ...over,
});

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

describe('zoom-pipeline backfill / redrive', () => {
  it('starts a run, follows its progress and prints the summary table', async () => {
    const calls: Array<{ method: string; url: string; body?: unknown }> = [];
    let polls = 0;
    const fake = (async (url: URL, init?: RequestInit) => {
      calls.push({
        method: init?.method ?? 'GET',
        url: String(url),
        body: init?.body === undefined ? undefined : JSON.parse(String(init.body)),
      });
      if (init?.method === 'POST') return json(202, run({}));
      polls += 1;
      return json(
        200,
        polls < 2
          ? run({ meetingsListed: 600 })
          : run({
              status: 'ok',
              windows: 3,
              pages: 12,
              meetingsListed: 3000,
              filesFound: 9000,
              alreadyStored: 8000,
              missing: 1000,
              queued: 1000,
              finishedAt: '2026-12-03T10:00:12.500Z',
            }),
      );
    }) as unknown as typeof fetch;
    const ctx = context(fake);

    const code = await runCli(
      ['backfill', '--from', '2026-01-01', '--to', '2026-03-31', '--user', 'u1', '--user', 'u2', '--poll-ms', '1'],
      ctx,
    );

    expect(code).toBe(0);
    expect(calls[0]).toEqual({
      method: 'POST',
      url: 'http://127.0.0.1:9999/reconcile/runs',
      body: { from: '2026-01-01', to: '2026-03-31', users: ['u1', 'u2'], dryRun: false },
    });
    expect(calls[1]?.url).toBe('http://127.0.0.1:9999/reconcile/runs/r1');
    expect(ctx.progress.some((p) => p.includes('300 meetings'))).toBe(true);
    expect(ctx.out.join('\n')).toMatch(/meetings listed\s+3,000/);
    expect(ctx.out.join('\n')).toMatch(/queued\s+1,000 \(3\.0 GiB\)/);
    expect(ctx.out.join('\n')).toMatch(/windows \/ pages\s+3 \/ 12/);
  });

  it('reports a busy lease and a failed run with exit code 1, and bad dates as usage errors', async () => {
    const busy = context((async () =>
      json(409, {
        error: 'reconcile_busy',
        message: 'another reconciler holds the reconcile lease',
      })) as unknown as typeof fetch);
    expect(await runCli(['backfill', '--from', '2026-01-01'], busy)).toBe(1);
    expect(busy.err.join('\n')).toMatch(/another reconciler holds the reconcile lease/);

    const failed = context((async () =>
      json(
        200,
        run({ status: 'failed', error: 'GET /accounts/{accountId}/recordings: HTTP 500 after 6 attempts' }),
      )) as unknown as typeof fetch);
    expect(await runCli(['backfill', '--from', '2026-01-01'], failed)).toBe(1);
    expect(failed.err.join('\n')).toMatch(/HTTP 500 after 6 attempts/);

    const bad = context((async () => json(500, {})) as unknown as typeof fetch);
    expect(await runCli(['backfill', '--from', '2026-13-01'], bad)).toBe(2);
    expect(await runCli(['backfill'], bad)).toBe(2);
  });

  it('redrive posts the filters and prints the counts by reason', async () => {
    let body: unknown;
    const ctx = context((async (_url: URL, init?: RequestInit) => {
      body = JSON.parse(String(init?.body));
      return json(200, {
        scanned: 12,
        files: 10,
        matched: 4,
        alreadyStored: 1,
        notRedrivable: 1,
        queued: 2,
        dryRun: false,
        byReason: { download_unauthorized: 2 },
      });
    }) as unknown as typeof fetch);
    expect(await runCli(['redrive', '--reason', 'download_unauthorized', '--meeting', 'abc=='], ctx)).toBe(0);
    expect(body).toEqual({ reason: 'download_unauthorized', meetingUuid: 'abc==', dryRun: false });
    expect(ctx.out.join('\n')).toMatch(/queued\s+2/);
    expect(ctx.out.join('\n')).toMatch(/download_unauthorized\s+2/);
  });
});
