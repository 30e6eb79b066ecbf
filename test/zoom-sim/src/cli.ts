import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startDownloadServer, type DownloadServer } from './download-server';
import { loadFixture } from './fixtures';
import { startOAuthServer, type OAuthServer } from './oauth-server';
import { fakeDownloadToken, recordingCompleted } from './payload-builder';
import { FastClock, realClock } from './sim-clock';
import { ZoomWebhookSender, type DeliveryOutcome } from './webhook-sender';

/*
 * zoom-sim from the command line, for benchmarks and manual runs (after `npm run build`):
 *
 *   node dist/test/zoom-sim/src/cli.js serve-downloads [--port N] [--size BYTES] [--count K] [--token T]
 *        [--throttle BYTES_PER_SEC] [--reset-after BYTES] [--s2s ACCOUNT:CLIENT:SECRET] [--sha256]
 *     prints JSON lines (listening, one per file, and a ready recording.completed payload), then serves
 *     until SIGINT/SIGTERM. With --oauth CLIENT_ID:SECRET [--oauth-port N] [--oauth-user ZOOM_USER[:ACCOUNT]] it also
 *     plays Zoom's user OAuth (auto-consent as that user), accepts that user's access tokens for the downloads,
 *     and the printed recording.completed is that user's (host_id, account_id).
 *   node dist/test/zoom-sim/src/cli.js send --url U [--secret S] (--fixture NAME | --body-file F)
 *        [--copies N] [--fast FACTOR] [--ack-timeout MS] [--timestamp SEC] [--no-restamp]
 *     delivers like Zoom (retries included) and prints one JSON line per copy; exit code 1 unless all acked.
 *     The secret can come from ZOOM_WEBHOOK_SECRET_TOKEN instead of the command line.
 */

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

export interface CliResult {
  code: number;
  /** Set by serve-downloads: the caller keeps it running and closes it. */
  server?: DownloadServer;
  /** Set by serve-downloads --oauth. */
  oauth?: OAuthServer;
}

const USAGE =
  'usage: cli.js serve-downloads [--port N --size BYTES --count K ...] | send --url U --fixture NAME [--copies N ...]';

function int(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer`);
  return n;
}

async function serveDownloads(args: string[], io: CliIo): Promise<CliResult> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'redirect-host': { type: 'string' },
      size: { type: 'string' },
      count: { type: 'string' },
      token: { type: 'string' },
      throttle: { type: 'string' },
      'reset-after': { type: 'string' },
      s2s: { type: 'string' },
      sha256: { type: 'boolean' },
      oauth: { type: 'string' },
      'oauth-port': { type: 'string' },
      'oauth-user': { type: 'string' },
    },
  });
  let oauth: OAuthServer | undefined;
  let owner: { hostId: string; accountId: string } | undefined;
  if (values.oauth !== undefined) {
    const [clientId, clientSecret] = values.oauth.split(':');
    if (!clientId || !clientSecret) throw new Error('--oauth must be CLIENT_ID:CLIENT_SECRET');
    oauth = await startOAuthServer({
      clientId,
      clientSecret,
      port: int(values['oauth-port'], 'oauth-port', 0),
      host: values.host,
    });
    const [id, accountId] = (values['oauth-user'] ?? '').split(':');
    const user = oauth.addUser({ ...(id ? { id } : {}), ...(accountId ? { accountId } : {}) });
    owner = { hostId: user.id, accountId: user.accountId };
    io.out(JSON.stringify({ type: 'oauth', url: oauth.url, clientId, user }));
  }
  const server = await startDownloadServer({
    acceptAccessToken: oauth ? (t) => oauth.isAccessTokenValid(t) : undefined,
    port: int(values.port, 'port', 0),
    host: values.host,
    redirectHost: values['redirect-host'],
    throttleBytesPerSec: values.throttle === undefined ? undefined : int(values.throttle, 'throttle', 0),
    resetAfterBytes: values['reset-after'] === undefined ? undefined : int(values['reset-after'], 'reset-after', 0),
  });
  if (values.s2s !== undefined) {
    const [accountId, clientId, clientSecret] = values.s2s.split(':');
    if (accountId === undefined || clientId === undefined || clientSecret === undefined)
      throw new Error('--s2s must be ACCOUNT:CLIENT:SECRET');
    server.setS2SCredentials({ accountId, clientId, clientSecret });
  }
  io.out(
    JSON.stringify({ type: 'listening', url: server.url, redirectUrl: server.redirectUrl, tokenUrl: server.tokenUrl }),
  );
  const size = int(values.size, 'size', 1024 * 1024);
  const count = int(values.count, 'count', 1);
  // One token for all files, like the single download_token of a recording.completed event.
  const token = values.token ?? fakeDownloadToken();
  const files = [];
  for (let i = 0; i < count; i++) {
    const f = server.addFile({ size, token });
    files.push(f);
    io.out(
      JSON.stringify({
        type: 'file',
        fileId: f.fileId,
        downloadUrl: f.downloadUrl,
        size: f.size,
        token: f.token,
        ...(values.sha256 === true ? { sha256: f.sha256 } : {}),
      }),
    );
  }
  const payload = recordingCompleted({
    downloadBaseUrl: server.url,
    downloadToken: token,
    ...(owner ?? {}),
    files: files.map((f) => ({ id: f.fileId, size: f.size, downloadUrl: f.downloadUrl })),
  });
  io.out(JSON.stringify({ type: 'recording.completed', payload }));
  return { code: 0, server, oauth };
}

function summarise(o: DeliveryOutcome): Record<string, unknown> {
  // No signatures or bodies: the output may end up in CI logs.
  return {
    copyIndex: o.copyIndex,
    acked: o.acked,
    gaveUp: o.gaveUp,
    attempts: o.attempts.map((a) => ({
      attempt: a.attempt,
      result: a.result,
      at: new Date(a.at).toISOString(),
      timestampSec: a.timestampSec,
      requestId: a.requestId,
      latencyMs: Math.round(a.latencyMs * 10) / 10,
      ...(a.error === undefined ? {} : { error: a.error }),
    })),
  };
}

async function send(args: string[], io: CliIo): Promise<CliResult> {
  const { values } = parseArgs({
    args,
    options: {
      url: { type: 'string' },
      secret: { type: 'string' },
      fixture: { type: 'string' },
      'body-file': { type: 'string' },
      copies: { type: 'string' },
      fast: { type: 'string' },
      'ack-timeout': { type: 'string' },
      timestamp: { type: 'string' },
      'no-restamp': { type: 'boolean' },
    },
  });
  const secret = values.secret ?? process.env.ZOOM_WEBHOOK_SECRET_TOKEN?.split(',')[0];
  if (
    values.url === undefined ||
    secret === undefined ||
    (values.fixture === undefined) === (values['body-file'] === undefined)
  ) {
    io.err('send needs --url, --secret (or ZOOM_WEBHOOK_SECRET_TOKEN) and exactly one of --fixture / --body-file');
    return { code: 2 };
  }
  // A body file is sent byte for byte; a fixture is sent compact, as Zoom would.
  const body = values.fixture !== undefined ? loadFixture(values.fixture) : readFileSync(values['body-file']!);
  const sender = new ZoomWebhookSender({
    targetUrl: values.url,
    secret,
    clock: values.fast === undefined ? realClock : new FastClock(int(values.fast, 'fast', 1)),
    ackTimeoutMs: values['ack-timeout'] === undefined ? undefined : int(values['ack-timeout'], 'ack-timeout', 3000),
    restampRetries: values['no-restamp'] !== true,
  });
  const outcomes = await sender.sendCopies(body, int(values.copies, 'copies', 1) || 1, {
    timestampSec: values.timestamp === undefined ? undefined : int(values.timestamp, 'timestamp', 0),
  });
  for (const o of outcomes) io.out(JSON.stringify(summarise(o)));
  return { code: outcomes.every((o) => o.acked) ? 0 : 1 };
}

export async function runCli(argv: string[], io: CliIo): Promise<CliResult> {
  const [command, ...args] = argv;
  try {
    if (command === 'serve-downloads') return await serveDownloads(args, io);
    if (command === 'send') return await send(args, io);
    io.err(USAGE);
    return { code: 2 };
  } catch (err) {
    io.err(err instanceof Error ? err.message : String(err));
    return { code: 2 };
  }
}

if (require.main === module) {
  const io: CliIo = { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) };
  void runCli(process.argv.slice(2), io).then(({ code, server, oauth }) => {
    if (server === undefined) {
      process.exitCode = code;
      return;
    }
    const stop = (): void => {
      void Promise.all([server.close(), oauth?.close()]).then(() => process.exit(0));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
