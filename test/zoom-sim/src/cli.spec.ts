import { startCaptureServer } from './capture-server';
import { runCli, type CliIo } from './cli';
import { zoomSignature } from './zoom-signature';

function io(): CliIo & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l) };
}

describe('cli', () => {
  it('serve-downloads prints the files and a recording.completed that downloads them', async () => {
    const console = io();
    const { code, server } = await runCli(
      ['serve-downloads', '--size', '2000', '--count', '2', '--token', 'cli-token', '--sha256'],
      console,
    );
    try {
      expect(code).toBe(0);
      const lines = console.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.map((l) => l.type)).toEqual(['listening', 'file', 'file', 'recording.completed']);
      const file = lines[1]!;
      expect(file).toMatchObject({ size: 2000, token: 'cli-token' });
      const res = await fetch(file.downloadUrl as string, {
        headers: { authorization: 'Bearer cli-token' },
        redirect: 'manual',
      });
      expect(res.status).toBe(302);
      await res.arrayBuffer();
      const payload = lines[3]!.payload as {
        download_token: string;
        payload: { object: { recording_files: Array<{ download_url: string }> } };
      };
      expect(payload.download_token).toBe('cli-token');
      expect(payload.payload.object.recording_files.map((f) => f.download_url)).toEqual([
        file.downloadUrl,
        lines[2]!.downloadUrl,
      ]);
    } finally {
      await server?.close();
    }
  });

  it('send delivers a fixture (with copies) and reports outcomes without signatures', async () => {
    const receiver = await startCaptureServer();
    try {
      const console = io();
      const { code } = await runCli(
        [
          'send',
          '--url',
          receiver.url,
          '--secret',
          's3cret',
          '--fixture',
          'recording.completed',
          '--copies',
          '2',
          '--timestamp',
          '1740596809',
        ],
        console,
      );
      expect(code).toBe(0);
      expect(receiver.requests).toHaveLength(2);
      for (const q of receiver.requests) {
        expect(q.headers['x-zm-signature']).toBe(zoomSignature('s3cret', 1740596809, q.body));
      }
      expect(console.lines).toHaveLength(2);
      expect(console.lines.join('\n')).not.toContain('v0=');
      expect(JSON.parse(console.lines[0]!)).toMatchObject({ acked: true, attempts: [{ attempt: 0, result: 200 }] });
    } finally {
      await receiver.close();
    }
  });

  it('rejects incomplete arguments with exit code 2', async () => {
    const console = io();
    expect((await runCli(['send', '--url', 'http://127.0.0.1:1'], console)).code).toBe(2);
    expect((await runCli(['bogus'], console)).code).toBe(2);
    expect(console.errors).toHaveLength(2);
  });
});
