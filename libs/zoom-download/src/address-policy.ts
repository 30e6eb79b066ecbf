import { isIP, isIPv4, isIPv6 } from 'node:net';

/*
 * Which hosts and addresses a download may reach (SPEC §7 invariant 6). Pure functions: the resolver and
 * the sockets live in hop-guard.ts and http-hop.ts.
 */

/**
 * Lower case, no trailing dot, no IPv6 brackets, IP literals in their canonical WHATWG form (so `127.1`,
 * `0x7f.0.0.1` and `127.0.0.1` compare equal, as they do once they are in a URL). `undefined` when the
 * text is not a bare host name (a port, a path, userinfo or spaces are not a host).
 */
export function normalizeHost(host: string): string | undefined {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.endsWith('.')) h = h.slice(0, -1);
  if (h === '') return undefined;
  if (isIPv6(h)) {
    try {
      return new URL(`http://[${h}]/`).hostname.slice(1, -1);
    } catch {
      return undefined;
    }
  }
  if (/[\s/\\@:?#[\]%]/.test(h)) return undefined;
  try {
    const parsed = new URL(`http://${h}/`).hostname;
    return parsed.endsWith('.') ? parsed.slice(0, -1) : parsed;
  } catch {
    return undefined;
  }
}

/**
 * `host` matches an entry exactly, or `*.domain` matches any subdomain of `domain` (not `domain` itself).
 * Case-insensitive, trailing dots ignored, ports never part of the match (a host allows all its ports).
 * Wildcards never match IP literals: `*.0.1` must not admit `127.0.0.1`.
 */
export function isHostAllowed(host: string, allowedHosts: readonly string[]): boolean {
  const h = normalizeHost(host);
  if (h === undefined) return false;
  for (const entry of allowedHosts) {
    const trimmed = entry.trim();
    if (trimmed.startsWith('*.')) {
      const domain = normalizeHost(trimmed.slice(2));
      if (domain !== undefined && isIP(h) === 0 && h.endsWith(`.${domain}`)) return true;
    } else if (normalizeHost(trimmed) === h) {
      return true;
    }
  }
  return false;
}

/** `localhost` or a loopback IP literal: the only hosts that may use plain http and resolve to loopback. */
export function isLoopbackName(host: string): boolean {
  const h = normalizeHost(host);
  if (h === undefined) return false;
  return h === 'localhost' || isLoopbackAddress(h);
}

/**
 * True when `host` is listed by an exact (non-wildcard) entry that is itself `localhost` or a loopback IP:
 * the local-testing exception (plain http allowed, loopback addresses allowed). A wildcard never grants it.
 */
export function isExplicitLoopbackHost(host: string, allowedHosts: readonly string[]): boolean {
  const h = normalizeHost(host);
  if (h === undefined || !isLoopbackName(h)) return false;
  return allowedHosts.some((entry) => !entry.trim().startsWith('*.') && normalizeHost(entry) === h);
}

export function isLoopbackAddress(ip: string): boolean {
  const v4 = parseIPv4(ip);
  if (v4 !== undefined) return v4 >>> 24 === 127;
  const v6 = parseIPv6(ip);
  if (v6 === undefined) return false;
  if (v6.slice(0, 7).every((g) => g === 0) && v6[7] === 1) return true;
  const mapped = embeddedMappedIPv4(v6);
  return mapped !== undefined && mapped >>> 24 === 127;
}

// Not globally reachable (IANA special-purpose registries). Anything here is refused unless the host is
// an explicitly listed loopback test host.
const PRIVATE_V4: ReadonlyArray<readonly [string, number]> = [
  ['0.0.0.0', 8], // "this network"; 0.0.0.0 reaches the local host on Linux
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local: cloud metadata at 169.254.169.254
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // TEST-NET-1
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // TEST-NET-2
  ['203.0.113.0', 24], // TEST-NET-3
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and 255.255.255.255 broadcast
];

const PRIVATE_V4_NUMERIC = PRIVATE_V4.map(([base, prefix]) => {
  const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
  return { base: (parseIPv4(base) ?? 0) & mask, mask };
});

/**
 * True for every address a download must not reach: loopback, RFC 1918, link-local (cloud metadata),
 * CGNAT, 0.0.0.0/8, multicast, reserved and documentation ranges, IPv6 ULA, link-local, site-local,
 * multicast, and IPv6 forms that embed such an IPv4 (`::ffff:10.0.0.1`, NAT64 `64:ff9b::/96`, 6to4
 * `2002::/16`). Fails closed: anything that is not an IP literal, and IPv6 outside global unicast
 * 2000::/3, counts as private.
 */
export function isPrivateAddress(ip: string): boolean {
  const v4 = parseIPv4(ip);
  if (v4 !== undefined) return isPrivateV4(v4);
  const g = parseIPv6(ip);
  if (g === undefined) return true;
  const mapped = embeddedMappedIPv4(g);
  if (mapped !== undefined) return isPrivateV4(mapped);
  // NAT64 well-known prefix: the gateway forwards to the embedded IPv4, so judge that.
  if (g[0] === 0x64 && g[1] === 0xff9b && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0) {
    return isPrivateV4(joinV4(g[6], g[7]));
  }
  if ((g[0] & 0xe000) !== 0x2000) return true; // ::/8, 100::/64, fc00::/7, fe80::/10, ff00::/8, unallocated
  if (g[0] === 0x2002) return isPrivateV4(joinV4(g[1], g[2])); // 6to4 embeds the IPv4
  if (g[0] === 0x2001 && g[1] < 0x0200) return true; // 2001::/23 incl. Teredo
  if (g[0] === 0x2001 && g[1] === 0x0db8) return true; // documentation
  if (g[0] === 0x3fff && g[1] < 0x1000) return true; // 3fff::/20 documentation
  return false;
}

function isPrivateV4(ip: number): boolean {
  return PRIVATE_V4_NUMERIC.some(({ base, mask }) => (ip & mask) >>> 0 === base >>> 0);
}

function parseIPv4(ip: string): number | undefined {
  if (!isIPv4(ip)) return undefined;
  const parts = ip.split('.').map(Number);
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

function joinV4(hi: number, lo: number): number {
  return ((hi << 16) | lo) >>> 0;
}

/** `::ffff:a.b.c.d` (IPv4-mapped): the kernel connects to the IPv4 address. */
function embeddedMappedIPv4(g: readonly number[]): number | undefined {
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return joinV4(g[6], g[7]);
  return undefined;
}

/** Eight 16-bit groups, or undefined. Accepts a zone id (`fe80::1%eth0`) and a dotted IPv4 tail. */
function parseIPv6(input: string): number[] | undefined {
  let ip = input.startsWith('[') && input.endsWith(']') ? input.slice(1, -1) : input;
  const zone = ip.indexOf('%');
  if (zone !== -1) ip = ip.slice(0, zone);
  if (!isIPv6(ip)) return undefined;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(ip);
  if (dotted) {
    const v4 = parseIPv4(dotted[1]);
    if (v4 === undefined) return undefined;
    ip = `${ip.slice(0, dotted.index)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((x) => parseInt(x, 16)));
  const left = parse(head);
  if (tail === undefined) return left.length === 8 ? left : undefined;
  const right = parse(tail);
  const missing = 8 - left.length - right.length;
  if (missing < 1) return undefined;
  return [...left, ...new Array<number>(missing).fill(0), ...right];
}
