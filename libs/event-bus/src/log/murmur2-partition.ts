/**
 * Kafka's key → partition rule: `toPositive(murmur2(utf8(key))) % partitions`, bit for bit the Java client's
 * (and kafkajs's DefaultPartitioner). The embedded log uses it so a key lands on the same partition number in
 * standalone and in cluster mode for the same partition count.
 */
export function murmur2(data: Buffer): number {
  const seed = 0x9747b28c;
  const m = 0x5bd1e995;
  const r = 24;
  const length = data.length;
  let h = seed ^ length;
  const blocks = length - (length % 4);
  for (let i = 0; i < blocks; i += 4) {
    let k =
      (data[i] & 0xff) | ((data[i + 1] & 0xff) << 8) | ((data[i + 2] & 0xff) << 16) | ((data[i + 3] & 0xff) << 24);
    k = Math.imul(k, m);
    k ^= k >>> r;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  // Tail bytes, as the Java switch with fall-through (written as ifs: the compiler forbids fall-through).
  const tail = length % 4;
  if (tail >= 3) h ^= (data[blocks + 2] & 0xff) << 16;
  if (tail >= 2) h ^= (data[blocks + 1] & 0xff) << 8;
  if (tail >= 1) {
    h ^= data[blocks] & 0xff;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

export function partitionForKey(key: string, partitions: number): number {
  return (murmur2(Buffer.from(key, 'utf8')) & 0x7fffffff) % partitions;
}
