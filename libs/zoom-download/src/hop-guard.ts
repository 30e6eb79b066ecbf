import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import {
  isExplicitLoopbackHost,
  isHostAllowed,
  isLoopbackAddress,
  isPrivateAddress,
  normalizeHost,
} from './address-policy';
import { DownloadError, describeNetworkError } from './download-error';

/** Resolves a host name to IP addresses (injectable so tests can play DNS, including rebinding). */
export type ResolveHost = (host: string) => Promise<string[]>;

export const systemResolve: ResolveHost = async (host) =>
  (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

export interface HopPolicy {
  allowedHosts: readonly string[];
  resolve: ResolveHost;
}

/** A URL whose host passed the allow-list and whose addresses were all checked; connect only to these. */
export interface CheckedHop {
  url: URL;
  /** Normalised host name, for messages and the allow-list. */
  host: string;
  addresses: ReadonlyArray<{ address: string; family: 4 | 6 }>;
}

/**
 * The checks that need no DNS: scheme and allow-list. Run before anything else so that a forbidden
 * download costs no token request and no connection at all.
 */
export function checkHopStatic(url: URL, allowedHosts: readonly string[]): { host: string; loopbackTestHost: boolean } {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new DownloadError(
      'download_forbidden_host',
      `the ${url.protocol.replace(/:$/, '')} scheme is not allowed for downloads`,
      {
        retryable: false,
      },
    );
  }
  const host = normalizeHost(url.hostname);
  if (host === undefined || !isHostAllowed(host, allowedHosts)) {
    throw new DownloadError(
      'download_forbidden_host',
      'host is not on the download allow-list (ZOOM_DOWNLOAD_ALLOWED_HOSTS)',
      {
        retryable: false,
        host: host ?? 'invalid host',
      },
    );
  }
  const loopbackTestHost = isExplicitLoopbackHost(host, allowedHosts);
  if (url.protocol === 'http:' && !loopbackTestHost) {
    throw new DownloadError(
      'download_forbidden_host',
      'plain http is refused; only an explicitly listed loopback host may use it',
      {
        retryable: false,
        host,
      },
    );
  }
  return { host, loopbackTestHost };
}

/**
 * Checks one hop before a single byte is sent to it: scheme, allow-list, then every address the name
 * resolves to. The caller must connect to `addresses` (see http-hop.ts), never resolve the name again,
 * or a DNS answer that changes between check and connect (rebinding) would bypass the check.
 */
export async function checkHop(url: URL, policy: HopPolicy): Promise<CheckedHop> {
  const { host, loopbackTestHost } = checkHopStatic(url, policy.allowedHosts);

  let resolved: string[];
  if (isIP(host) !== 0) {
    resolved = [host];
  } else {
    try {
      resolved = await policy.resolve(host);
    } catch (err) {
      throw new DownloadError('download_network', `could not be resolved (${describeNetworkError(err)})`, {
        retryable: true,
        host,
      });
    }
    if (resolved.length === 0)
      throw new DownloadError('download_network', 'resolved to no address', { retryable: true, host });
  }

  const addresses: Array<{ address: string; family: 4 | 6 }> = [];
  for (const address of resolved) {
    const family = isIP(address);
    // Every address must pass, not just the first: the client may fall back to any of them.
    const refused = family === 0 || (loopbackTestHost ? !isLoopbackAddress(address) : isPrivateAddress(address));
    if (refused) {
      throw new DownloadError(
        'download_forbidden_host',
        loopbackTestHost
          ? 'listed as a loopback test host but resolves to a non-loopback address ' +
              `(${family === 0 ? 'invalid' : address})`
          : `resolves to a private, loopback or link-local address (${family === 0 ? 'invalid' : address})`,
        { retryable: false, host },
      );
    }
    addresses.push({ address, family: family === 6 ? 6 : 4 });
  }
  return { url, host, addresses };
}
