import fc from 'fast-check';
import {
  isExplicitLoopbackHost,
  isHostAllowed,
  isLoopbackAddress,
  isPrivateAddress,
  normalizeHost,
} from './address-policy';

describe('isHostAllowed', () => {
  const zoom = ['zoom.us', '*.zoom.us'];
  it.each<[string, readonly string[], boolean]>([
    ['zoom.us', zoom, true],
    ['us02web.zoom.us', zoom, true],
    ['ssrweb.zoom.us', zoom, true],
    ['a.b.zoom.us', zoom, true],
    ['SSRWEB.Zoom.US', zoom, true],
    ['ssrweb.zoom.us.', zoom, true],
    ['zoom.us', ['*.zoom.us'], false], // a wildcard does not admit the bare domain
    ['evilzoom.us', zoom, false],
    ['zoom.us.evil.com', zoom, false],
    ['zoom.usx', zoom, false],
    ['', zoom, false],
    ['169.254.169.254', zoom, false],
    ['127.0.0.1', ['127.0.0.1'], true],
    ['127.0.0.1', ['*.0.0.1'], false], // wildcards never match IP literals
    ['127.0.0.2', ['127.0.0.1'], false],
    ['[::1]', ['::1'], true],
    ['::1', ['[::1]'], true],
    ['0:0:0:0:0:0:0:1', ['::1'], true], // IPv6 compared in canonical form
    ['localhost', ['LOCALHOST.'], true],
    ['files.example.com', [' files.example.com '], true],
    ['zoom.us', [], false],
    ['zoom.us:443', zoom, false], // a port is not part of a host
    ['user@zoom.us', zoom, false],
  ])('%s against %j → %s', (host, list, expected) => {
    expect(isHostAllowed(host, list)).toBe(expected);
  });

  it('never admits a host outside every listed domain (property)', () => {
    fc.assert(
      fc.property(fc.domain(), (host) => {
        fc.pre(!/(^|\.)zoom\.us$/i.test(host));
        return !isHostAllowed(host, ['zoom.us', '*.zoom.us']);
      }),
    );
  });

  it('admits every subdomain of a wildcard entry (property)', () => {
    fc.assert(fc.property(fc.domain(), (sub) => isHostAllowed(`${sub}.zoom.us`, ['*.zoom.us'])));
  });
});

describe('isExplicitLoopbackHost (the plain-http test exception)', () => {
  it.each<[string, readonly string[], boolean]>([
    ['127.0.0.1', ['127.0.0.1'], true],
    ['127.0.0.2', ['127.0.0.1', '127.0.0.2'], true],
    ['localhost', ['localhost'], true],
    ['::1', ['::1'], true],
    ['127.0.0.1', ['zoom.us'], false],
    ['a.localhost', ['*.localhost'], false], // a wildcard never grants it
    ['zoom.us', ['zoom.us'], false],
    ['10.0.0.1', ['10.0.0.1'], false],
  ])('%s with %j → %s', (host, list, expected) => {
    expect(isExplicitLoopbackHost(host, list)).toBe(expected);
  });
});

describe('isPrivateAddress', () => {
  it.each([
    '127.0.0.1',
    '127.255.255.254',
    '10.0.0.1',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254', // cloud metadata
    '100.64.0.1', // CGNAT
    '100.127.255.255',
    '0.0.0.0',
    '0.1.2.3',
    '224.0.0.1',
    '239.255.255.250',
    '255.255.255.255',
    '240.0.0.1',
    '192.0.2.10',
    '198.18.0.1',
    '::',
    '::1',
    '::ffff:10.0.0.1',
    '::ffff:127.0.0.1',
    '::ffff:169.254.169.254',
    '::ffff:a9fe:a9fe', // 169.254.169.254 in hex
    'fd00::1',
    'fc00::1',
    'fe80::1',
    'fe80::1%eth0',
    'fec0::1',
    'ff02::1',
    '64:ff9b::10.0.0.1', // NAT64 to a private IPv4
    '2002:0a00:0001::1', // 6to4 of 10.0.0.1
    '2001:db8::1',
    '2001::1', // Teredo
    '100::1',
    'not-an-ip',
    '',
  ])('%s is private', (ip) => {
    expect(isPrivateAddress(ip)).toBe(true);
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '170.114.10.1',
    '100.128.0.1',
    '172.32.0.1',
    '2600:1f18::1',
    '2a00:1450:4001::1',
    '::ffff:8.8.8.8',
    '64:ff9b::8.8.8.8',
  ])('%s is public', (ip) => {
    expect(isPrivateAddress(ip)).toBe(false);
  });

  it('judges an IPv4-mapped IPv6 address like the IPv4 address it maps (property)', () => {
    fc.assert(fc.property(fc.ipV4(), (v4) => isPrivateAddress(`::ffff:${v4}`) === isPrivateAddress(v4)));
  });

  it('refuses every address in 10/8, 172.16/12, 192.168/16 and 169.254/16 (property)', () => {
    const octet = fc.integer({ min: 0, max: 255 });
    fc.assert(
      fc.property(octet, octet, octet, (a, b, c) =>
        [`10.${a}.${b}.${c}`, `172.${16 + (a % 16)}.${b}.${c}`, `192.168.${b}.${c}`, `169.254.${b}.${c}`].every(
          isPrivateAddress,
        ),
      ),
    );
  });
});

describe('isLoopbackAddress', () => {
  it.each<[string, boolean]>([
    ['127.0.0.1', true],
    ['127.0.0.2', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['10.0.0.1', false],
    ['::', false],
    ['localhost', false],
  ])('%s → %s', (ip, expected) => {
    expect(isLoopbackAddress(ip)).toBe(expected);
  });
});

describe('normalizeHost', () => {
  it.each<[string, string | undefined]>([
    ['Zoom.US.', 'zoom.us'],
    ['[::1]', '::1'],
    ['127.1', '127.0.0.1'], // WHATWG URL host parsing, as the URL of a hop will have it
    ['zoom.us:443', undefined],
    ['a/b', undefined],
    ['', undefined],
  ])('%s → %s', (input, expected) => {
    expect(normalizeHost(input)).toBe(expected);
  });
});
