import { type DedupStore } from '@zoom-pipeline/dedup-store';

/*
 * The ledger of stored files: one claim `stored:<fileId>` per file in the dedup store (Redis in cluster mode, the
 * embedded store in standalone), written from zoom.recording.uploaded by UploadedLedgerConsumer. A reconcile run asks
 * about a page of files in one round trip (Redis MGET), so knowing what is stored costs O(files listed) memory-less
 * lookups, never a HEAD per file (docs/ARCHITECTURE.md, "Reconcile").
 *
 * `queued:<fileId>` marks a file a reconcile or redrive queued recently: a second run (or a second reconciler) within
 * that time does not queue it again while the uploader is still on it. Claims are atomic, so two racing runs
 * queue each file once.
 */
export const STORED_OWNER = 'stored';

export function storedKey(fileId: string): string {
  return `stored:${fileId}`;
}

export function queuedKey(fileId: string): string {
  return `queued:${fileId}`;
}

export async function storedAmong(store: DedupStore, fileIds: readonly string[]): Promise<boolean[]> {
  if (fileIds.length === 0) return [];
  const owners = await store.peekClaims(fileIds.map(storedKey));
  return owners.map((o) => o !== null);
}

/** Claims the right to queue each file; true where this caller won it (nobody queued it within `ttlMs`). */
export async function claimQueueing(
  store: DedupStore,
  fileIds: readonly string[],
  owner: string,
  ttlMs: number,
): Promise<boolean[]> {
  if (fileIds.length === 0) return [];
  const results = await store.claimMany(fileIds.map((id) => ({ key: queuedKey(id), owner, ttlMs })));
  return results.map((r) => r.status !== 'duplicate');
}
