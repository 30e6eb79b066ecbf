// Jest globalSetup for the integration and e2e tiers: make sure the real Kafka, Redis and S3 are up.
// Services are reused across runs and deliberately not stopped at the end (`scripts/infra.sh down` does that).
// ZP_INFRA=external: the services were started by someone else; only check that their endpoints file exists.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { loadEndpoints } from './endpoints';

export default async function globalSetup(): Promise<void> {
  if (process.env.ZP_INFRA === 'external') {
    loadEndpoints();
    return;
  }
  const repoRoot = resolve(__dirname, '../..');
  const result = spawnSync('bash', [resolve(repoRoot, 'scripts/infra.sh'), 'up'], {
    cwd: repoRoot,
    stdio: 'inherit',
    env: process.env,
  });
  if (result.error) {
    throw new Error(`could not run scripts/infra.sh up: ${result.error.message}`);
  }
  if (result.status !== 0) {
    throw new Error(
      `scripts/infra.sh up failed (exit status ${result.status ?? `signal ${result.signal}`}); see its output above`,
    );
  }
  loadEndpoints();
}
