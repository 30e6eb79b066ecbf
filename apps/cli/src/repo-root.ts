import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * The directory holding package.json, searched upward from `from`: apps/cli/src under ts-jest/swc and
 * dist/apps/cli/src after a build both resolve to the checkout, whatever the working directory is.
 */
export function findRepoRoot(from: string = __dirname): string | undefined {
  let dir = path.resolve(from);
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}
