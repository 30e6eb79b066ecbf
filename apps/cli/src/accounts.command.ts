import { parseArgs } from 'node:util';
import { type CommandContext, defaultBaseUrl, positiveInt } from './command-context';
import { UsageError } from './usage-error';

export const ACCOUNTS_USAGE = `usage: zoom-pipeline accounts <link | show | unlink> --app-user ID [options]

The calls a product backend makes to the accounts API (bearer ACCOUNTS_API_TOKEN):
  link     POST /accounts/links, then the consent (automatic against zoom-sim: --zoom-user picks the simulated
           user; against Zoom it prints the authorize URL to open), the callback and POST /accounts/links/confirm
  show     GET /accounts/links/ID
  unlink   DELETE /accounts/links/ID (revoked at Zoom, tokens deleted)

options:
  --app-user ID      your application's user id
  --zoom-user ID     zoom-sim only: the simulated Zoom user who consents
  --return-url URL   where the browser returns (default: the first ACCOUNTS_RETURN_URLS entry)
  --url URL          service base URL (default http://127.0.0.1:\${PORT:-8080})
  --timeout MS       per-request timeout (default 10000)
  -h, --help         this text

The bearer token is read from ACCOUNTS_API_TOKEN. Exit code 0 on success, 1 when a call failed, 2 on usage errors.`;

export async function accountsCommand(args: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      'app-user': { type: 'string' },
      'zoom-user': { type: 'string' },
      'return-url': { type: 'string' },
      url: { type: 'string' },
      timeout: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    ctx.io.out(ACCOUNTS_USAGE);
    return 0;
  }
  const [action] = positionals;
  if (action !== 'link' && action !== 'show' && action !== 'unlink')
    throw new UsageError('the first argument must be link, show or unlink');
  const appUserId = values['app-user'];
  if (appUserId === undefined) throw new UsageError('--app-user is required');
  const token = ctx.env.ACCOUNTS_API_TOKEN;
  if (token === undefined || token === '')
    throw new UsageError('set ACCOUNTS_API_TOKEN (the bearer token of the accounts API)');
  const base = (values.url ?? defaultBaseUrl(ctx.env)).replace(/\/+$/, '');
  const timeoutMs = positiveInt(values.timeout, 'timeout', 10_000);
  const fetchImpl = ctx.fetchImpl ?? fetch;
  const call = (path: string, init: RequestInit = {}): Promise<Response> =>
    fetchImpl(path.startsWith('http') ? path : `${base}${path}`, {
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
      ...init,
    });
  const api = (path: string, method = 'GET', body?: unknown): Promise<Response> =>
    call(path, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const user = encodeURIComponent(appUserId);

  if (action === 'show') return report(ctx, await api(`/accounts/links/${user}`));
  if (action === 'unlink') {
    const res = await api(`/accounts/links/${user}`, 'DELETE');
    if (res.status === 204) ctx.io.out(`unlinked ${appUserId}`);
    return res.status === 204 ? 0 : report(ctx, res);
  }

  const returnUrl = values['return-url'] ?? ctx.env.ACCOUNTS_RETURN_URLS?.split(',')[0]?.trim();
  if (!returnUrl) throw new UsageError('--return-url is required (or set ACCOUNTS_RETURN_URLS)');
  const started = await api('/accounts/links', 'POST', { appUserId, returnUrl });
  if (started.status !== 201) return report(ctx, started);
  const { authorizeUrl } = (await started.json()) as { authorizeUrl: string };
  const consentUrl = new URL(authorizeUrl);
  // zoom-sim's auto-consent picks its user from this parameter; Zoom itself would show its consent page.
  if (values['zoom-user'] !== undefined) consentUrl.searchParams.set('zoom_sim_user', values['zoom-user']);
  const atZoom = await call(consentUrl.toString());
  const callback = atZoom.headers.get('location');
  if (atZoom.status !== 302 || callback === null) {
    ctx.io.out(
      `open this URL in a browser signed in to Zoom, then confirm the code your returnUrl receives:\n${authorizeUrl}`,
    );
    return 0;
  }
  const back = await call(callback);
  const location = back.headers.get('location');
  const code = location === null ? null : new URL(location).searchParams.get('zoom_link_code');
  if (back.status !== 302 || code === null) return report(ctx, back);
  return report(ctx, await api('/accounts/links/confirm', 'POST', { code, appUserId }));
}

async function report(ctx: CommandContext, res: Response): Promise<number> {
  const text = await res.text();
  if (res.ok) {
    ctx.io.out(text);
    return 0;
  }
  ctx.io.err(`HTTP ${res.status}: ${text}`);
  return 1;
}
