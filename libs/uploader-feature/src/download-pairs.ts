import type { FileWorkItem } from '@zoom-pipeline/contracts';
import { DownloadError, type DownloadToken } from '@zoom-pipeline/zoom-download';

/** One way to open a file: a URL and the credentials to try on it, best first. */
export interface DownloadPair {
  url: string;
  tokens: DownloadToken[];
  /** `own`: the work item's URL (the canonical delivery's); `alternate`: another copy's URL with that copy's token. */
  kind: 'own' | 'alternate';
}

/**
 * The ways to open a work item's file, in order: its own URL with its own delivery's token (after the freshest
 * token dedup kept for the occurrence, as before), then each other copy's URL with that copy's own token. Zoom
 * may tie a `webhook_download` URL to the token of its own delivery, so a URL is never tried with another
 * delivery's token from `alternates` (docs/ZOOM-FACTS.md §3, file-shapes issue item 6).
 */
export function downloadPairs(item: FileWorkItem, ownTokens: DownloadToken[]): DownloadPair[] {
  const pairs: DownloadPair[] = [{ url: item.downloadUrl, tokens: ownTokens, kind: 'own' }];
  const seen = new Set([JSON.stringify([item.downloadUrl, item.downloadToken ?? null])]);
  for (const alternate of item.alternates ?? []) {
    const id = JSON.stringify([alternate.downloadUrl, alternate.downloadToken ?? null]);
    if (seen.has(id)) continue;
    seen.add(id);
    const tokens: DownloadToken[] =
      alternate.downloadToken === undefined
        ? []
        : [{ token: alternate.downloadToken, source: 'webhook', receivedAtMs: Date.parse(alternate.receivedAt) }];
    pairs.push({ url: alternate.downloadUrl, tokens, kind: 'alternate' });
  }
  return pairs;
}

/**
 * true when the download could not start because the credential was refused (401/403, Zoom's "Only the host can
 * download" page, or no credential at all): another delivery's URL/token pair may still open the file.
 */
export function credentialRefused(err: unknown): boolean {
  return (
    err instanceof DownloadError && (err.code === 'download_unauthorized' || err.code === 'download_html_response')
  );
}
