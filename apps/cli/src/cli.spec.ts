import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { USAGE, runCli } from './cli';
import { type CommandContext } from './command-context';

const REPO_ROOT = path.resolve(__dirname, '../../..');

function context(): CommandContext & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: { out: (l) => out.push(l), err: (l) => err.push(l), progress: () => undefined },
    env: {},
    cwd: REPO_ROOT,
    repoRoot: REPO_ROOT,
    readStdin: () => Promise.resolve(''),
  };
}

describe('zoom-pipeline (dispatch and help)', () => {
  it('prints the usage for --help and help, and a command usage for help <command> and <command> --help', async () => {
    for (const argv of [['--help'], ['-h'], ['help']]) {
      const ctx = context();
      expect(await runCli(argv, ctx)).toBe(0);
      expect(ctx.out).toEqual([USAGE]);
    }
    for (const command of ['send', 'status']) {
      const a = context();
      expect(await runCli(['help', command], a)).toBe(0);
      const b = context();
      expect(await runCli([command, '--help'], b)).toBe(0);
      expect(a.out[0]).toMatch(new RegExp(`^usage: zoom-pipeline ${command} `));
      expect(b.out).toEqual(a.out);
    }
  });

  it('exits 2 with the usage on stderr for no command, an unknown command or an unknown global flag', async () => {
    const cases: Array<[string[], string | undefined]> = [
      [[], undefined],
      [['deploy'], 'zoom-pipeline: unknown command "deploy"'],
      [['--verbose'], 'zoom-pipeline: unknown option --verbose'],
      [['help', 'deploy'], 'zoom-pipeline: unknown command "deploy"'],
    ];
    for (const [argv, message] of cases) {
      const ctx = context();
      expect(await runCli(argv, ctx)).toBe(2);
      expect(ctx.out).toEqual([]);
      if (message !== undefined) expect(ctx.err[0]).toBe(message);
      expect(ctx.err.join('\n')).toContain(USAGE);
    }
  });

  it('prints the version from package.json', async () => {
    const ctx = context();
    expect(await runCli(['--version'], ctx)).toBe(0);
    expect(ctx.out[0]).toMatch(/^zoom-pipeline \d+\.\d+\.\d+/);
  });
});

describe('bin/zoom-pipeline.js', () => {
  it('asks for a build when dist/ is missing', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'zp-cli-bin-'));
    try {
      mkdirSync(path.join(dir, 'bin'));
      copyFileSync(path.join(REPO_ROOT, 'bin', 'zoom-pipeline.js'), path.join(dir, 'bin', 'zoom-pipeline.js'));
      const r = spawnSync(process.execPath, [path.join(dir, 'bin', 'zoom-pipeline.js'), 'status'], {
        encoding: 'utf8',
      });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('run `npm run build` first (or `npm start`, which builds)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
