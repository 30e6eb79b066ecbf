import { type LookupAddress } from 'node:dns';
import { buildRequestOptions, pinnedLookup } from './http-hop';

function lookupOnce(
  addresses: ReadonlyArray<{ address: string; family: 4 | 6 }>,
  options: { all?: boolean; family?: number },
) {
  return new Promise<{ err: NodeJS.ErrnoException | null; address: string | LookupAddress[]; family?: number }>(
    (resolve) => {
      pinnedLookup(addresses)('files.zoom.us', options, (err, address, family) => resolve({ err, address, family }));
    },
  );
}

describe('pinnedLookup', () => {
  const checked = [
    { address: '203.0.113.7', family: 4 as const },
    { address: '2600:1f18::7', family: 6 as const },
  ];

  it('answers with the checked address, never asking DNS again', async () => {
    await expect(lookupOnce(checked, {})).resolves.toEqual({ err: null, address: '203.0.113.7', family: 4 });
  });

  it('answers every checked address when Node asks for all (autoSelectFamily)', async () => {
    const { address } = await lookupOnce(checked, { all: true });
    expect(address).toEqual([
      { address: '203.0.113.7', family: 4 },
      { address: '2600:1f18::7', family: 6 },
    ]);
  });

  it('honours a requested family and fails rather than invent an address', async () => {
    await expect(lookupOnce(checked, { family: 6 })).resolves.toMatchObject({ address: '2600:1f18::7', family: 6 });
    const { err } = await lookupOnce([checked[0]!], { family: 6 });
    expect(err?.code).toBe('ENOTFOUND');
  });
});

describe('buildRequestOptions', () => {
  const base = { method: 'GET' as const, headers: {} };

  it('keeps the name for Host and TLS SNI while the socket goes to the checked address', () => {
    const url = new URL('https://ssrweb.zoom.us:8443/file.mp4?Signature=abc');
    const options = buildRequestOptions({
      ...base,
      target: { url, host: 'ssrweb.zoom.us', addresses: [{ address: '203.0.113.7', family: 4 }] },
    });

    expect(options).toMatchObject({
      hostname: 'ssrweb.zoom.us',
      servername: 'ssrweb.zoom.us',
      port: 8443,
      path: '/file.mp4?Signature=abc',
      agent: false,
    });
    expect(options.lookup).toEqual(expect.any(Function));
  });

  it('sets no SNI for an IP literal and strips IPv6 brackets', () => {
    const url = new URL('https://[2600:1f18::7]/x');
    const options = buildRequestOptions({
      ...base,
      target: { url, host: '2600:1f18::7', addresses: [{ address: '2600:1f18::7', family: 6 }] },
    });

    expect(options.hostname).toBe('2600:1f18::7');
    expect(options.servername).toBeUndefined();
  });
});
