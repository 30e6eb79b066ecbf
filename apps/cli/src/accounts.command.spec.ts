import path from 'node:path';
import { runCli } from './cli';
import { type CommandContext } from './command-context';

const REPO_ROOT = path.resolve(__dirname, '../../..');

/** Plays the accounts API and zoom-sim's auto-consent with canned answers, recording every request. */
function fakeNetwork(): {
  fetchImpl: typeof fetch;
  calls: Array<{ method: string; url: string; auth?: string; body?: unknown }>;
} {
  const calls: Array<{ method: string; url: string; auth?: string; body?: unknown }> = [];
  const fetchImpl = (async (input: string | URL, init: RequestInit = {}) => {
    const url = new URL(String(input));
    const headers = new Headers(init.headers);
    calls.push({
      method: init.method ?? 'GET',
      url: url.toString(),
      auth: headers.get('authorization') ?? undefined,
      body: init.body ? JSON.parse(String(init.body)) : undefined,
    });
    if (url.pathname === '/accounts/links' && init.method === 'POST')
      return Response.json({ authorizeUrl: 'http://sim.test/oauth/authorize?state=s1' }, { status: 201 });
    if (url.pathname === '/oauth/authorize')
      return new Response(null, {
        status: 302,
        headers: { location: 'http://zp.test/oauth/zoom/callback?code=c1&state=s1' },
      });
    if (url.pathname === '/oauth/zoom/callback')
      return new Response(null, {
        status: 302,
        headers: { location: 'http://localhost:3000/zoom/?zoom_link_code=k1' },
      });
    if (url.pathname === '/accounts/links/confirm') return Response.json({ appUserId: 'alice', status: 'active' });
    return Response.json({ error: 'not_found', message: 'no' }, { status: 404 });
  }) as typeof fetch;
  return { fetchImpl, calls };
}

function context(
  fetchImpl: typeof fetch,
  env: NodeJS.ProcessEnv = {
    ACCOUNTS_API_TOKEN: 'tok-0123456789abcdef',
    ACCOUNTS_RETURN_URLS: 'http://localhost:3000/zoom/',
  },
): CommandContext & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: { out: (l) => out.push(l), err: (l) => err.push(l), progress: () => undefined },
    env,
    cwd: REPO_ROOT,
    repoRoot: REPO_ROOT,
    readStdin: () => Promise.resolve(''),
    fetchImpl,
  };
}

describe('zoom-pipeline accounts', () => {
  it('links through the four steps with the bearer, asking zoom-sim to consent as the chosen user', async () => {
    const { fetchImpl, calls } = fakeNetwork();
    const ctx = context(fetchImpl);
    expect(
      await runCli(['accounts', 'link', '--app-user', 'alice', '--zoom-user', 'zu-1', '--url', 'http://zp.test'], ctx),
    ).toBe(0);
    expect(calls.map((c) => `${c.method} ${new URL(c.url).pathname}`)).toEqual([
      'POST /accounts/links',
      'GET /oauth/authorize',
      'GET /oauth/zoom/callback',
      'POST /accounts/links/confirm',
    ]);
    expect(calls[0]).toMatchObject({
      auth: 'Bearer tok-0123456789abcdef',
      body: { appUserId: 'alice', returnUrl: 'http://localhost:3000/zoom/' },
    });
    expect(new URL(calls[1].url).searchParams.get('zoom_sim_user')).toBe('zu-1');
    expect(calls[1].auth).toBeUndefined(); // the bearer goes to the accounts API only
    expect(calls[3]).toMatchObject({ auth: 'Bearer tok-0123456789abcdef', body: { code: 'k1', appUserId: 'alice' } });
    expect(JSON.parse(ctx.out.join(''))).toMatchObject({ status: 'active' });
  });

  it('needs ACCOUNTS_API_TOKEN and --app-user, and reports an API error with exit code 1', async () => {
    const { fetchImpl } = fakeNetwork();
    expect(await runCli(['accounts', 'link', '--app-user', 'alice'], context(fetchImpl, {}))).toBe(2);
    expect(await runCli(['accounts', 'show'], context(fetchImpl))).toBe(2);
    const ctx = context(fetchImpl);
    expect(await runCli(['accounts', 'show', '--app-user', 'nobody', '--url', 'http://zp.test'], ctx)).toBe(1);
    expect(ctx.err.join('\n')).toContain('HTTP 404');
  });
});
