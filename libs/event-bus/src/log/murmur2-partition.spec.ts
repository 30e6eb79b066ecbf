import fc from 'fast-check';
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { partitionForKey } from './murmur2-partition';

function kafkajsPartition(key: string, partitions: number): number {
  const partitionMetadata: PartitionMetadata[] = Array.from({ length: partitions }, (_, i) => ({
    partitionErrorCode: 0,
    partitionId: i,
    leader: 1,
    replicas: [1],
    isr: [1],
  }));
  return Partitioners.DefaultPartitioner()({ topic: 't', partitionMetadata, message: { key, value: null } });
}

describe('partitionForKey', () => {
  it("matches kafkajs's Java-compatible DefaultPartitioner for any key and partition count", () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), fc.integer({ min: 1, max: 64 }), (key, partitions) => {
        expect(partitionForKey(key, partitions)).toBe(kafkajsPartition(key, partitions));
      }),
      { numRuns: 2_000 },
    );
  });

  it('is stable for known meeting UUIDs (same partition in standalone and in Kafka)', () => {
    for (const key of ['4444AAAiAAAAAiAiAiiAii==', 'aDYlohsHRtCd4ii1uC2+hA==', 'account-123', '']) {
      expect(partitionForKey(key, 12)).toBe(kafkajsPartition(key, 12));
    }
  });
});
