import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { partitionForKey } from '../log/murmur2-partition';

/**
 * Partitions `@platformatic/kafka` gives these keys with the partitioner the publish producer uses, computed by a
 * real Node process: the package is ESM-only and Jest's module runtime cannot load it (the app loads it with
 * Node's own require, as here).
 */
function platformaticPartitions(
  keys: string[],
  partitions: number,
  partitioner: 'compatibilityPartitioner' | 'defaultPartitioner',
): number[] {
  const script = `
    const pk = require('@platformatic/kafka');
    const keys = JSON.parse(process.argv[1]);
    // The producer takes the partitioner's number modulo the topic's partition count (producer.js, send path).
    const partitionOf = (k) => pk.${partitioner}({}, Buffer.from(k, 'utf8')) % ${partitions};
    process.stdout.write(JSON.stringify(keys.map(partitionOf)));
  `;
  return JSON.parse(
    execFileSync(process.execPath, ['-e', script, JSON.stringify(keys)], { encoding: 'utf8' }),
  ) as number[];
}

describe('platformatic publish producer partitioning', () => {
  // Meeting UUIDs are base64 (with /, + and =), account ids are plain strings.
  const keys = [
    ...Array.from({ length: 500 }, () => randomBytes(16).toString('base64')),
    'aDYlohsHRtCd4ii1uC2+hA==',
    'account-123',
    'Réunion',
  ];

  it('puts every key on the partition kafkajs, the Java client and the file log choose', () => {
    const expected = keys.map((k) => partitionForKey(k, 12));
    expect(platformaticPartitions(keys, 12, 'compatibilityPartitioner')).toEqual(expected);
  });

  it("would not with the package's default partitioner (why publish-producer.ts does not use it)", () => {
    const expected = keys.map((k) => partitionForKey(k, 12));
    const actual = platformaticPartitions(keys, 12, 'defaultPartitioner');
    expect(actual.filter((p, i) => p !== expected[i]).length).toBeGreaterThan(0);
  });
});
