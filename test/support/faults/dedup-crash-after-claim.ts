/**
 * Test-only fault, never part of an app: `startApp('dedup', env, { preload: [FAULTS.dedupCrashAfterClaim] })` loads
 * this into the dedup process with `node --require`. The process SIGKILLs itself right after its first Redis claim
 * returns, before any event is emitted or offset committed: the crash window the dedup invariants must survive.
 * It patches the very class the app loads (the same built module), so production code carries no fault switch.
 */
import { RedisDedupStore } from '@zoom-pipeline/dedup-store';

const claimMany = RedisDedupStore.prototype.claimMany;
RedisDedupStore.prototype.claimMany = async function (this: RedisDedupStore, ...args: Parameters<typeof claimMany>) {
  await claimMany.apply(this, args);
  process.stderr.write('fault dedup-crash-after-claim: claimed, exiting with SIGKILL\n');
  process.kill(process.pid, 'SIGKILL');
  return new Promise<never>(() => undefined);
};
