/**
 * The in-memory index shared by the memory adapter and the file log: per topic-partition an array of records
 * (offset = index) and per group the committed offsets. It only changes through `apply(entries)`, in the order
 * the entries became durable, so replaying the journal on start rebuilds exactly the same state.
 *
 * Values stay in memory (Buffers). That is acceptable at the standalone scale (one process, webhook bodies
 * of a few KiB, recordings are not in the log); see the file log's README note on retention.
 */

export interface StoredRecord {
  key: string | null;
  value: Buffer;
  headers: Record<string, string>;
  timestamp: number;
}

/** One journal entry. A batch of entries is applied (and, in the file log, written) atomically. */
export type LogEntry =
  | { kind: 'topic'; topic: string; partitions: number }
  | ({ kind: 'message'; topic: string; partition: number } & StoredRecord)
  | { kind: 'commit'; groupId: string; topic: string; partition: number; offset: number };

export type AppendListener = (topic: string, partition: number) => void;

export class LogState {
  private readonly topics = new Map<string, StoredRecord[][]>();
  private readonly committed = new Map<string, Map<string, number>>();
  private readonly listeners = new Set<AppendListener>();

  apply(entries: readonly LogEntry[]): void {
    const touched = new Set<string>();
    for (const entry of entries) {
      switch (entry.kind) {
        case 'topic':
          // An existing topic keeps its partition count: changing it would move keys to other partitions.
          if (!this.topics.has(entry.topic)) {
            this.topics.set(
              entry.topic,
              Array.from({ length: entry.partitions }, () => []),
            );
          }
          break;
        case 'message': {
          const partitions = this.topics.get(entry.topic);
          const log = partitions?.[entry.partition];
          if (!log) throw new Error(`journal entry for unknown topic-partition ${entry.topic}/${entry.partition}`);
          log.push({ key: entry.key, value: entry.value, headers: entry.headers, timestamp: entry.timestamp });
          touched.add(`${entry.partition}\u0000${entry.topic}`);
          break;
        }
        case 'commit': {
          let group = this.committed.get(entry.groupId);
          if (!group) this.committed.set(entry.groupId, (group = new Map()));
          group.set(tpKey(entry.topic, entry.partition), entry.offset);
          break;
        }
      }
    }
    for (const key of touched) {
      const sep = key.indexOf('\u0000');
      const partition = Number(key.slice(0, sep));
      const topic = key.slice(sep + 1);
      for (const listener of this.listeners) listener(topic, partition);
    }
  }

  partitionCount(topic: string): number | undefined {
    return this.topics.get(topic)?.length;
  }

  endOffset(topic: string, partition: number): number {
    return this.topics.get(topic)?.[partition]?.length ?? 0;
  }

  read(topic: string, partition: number, from: number, max: number): StoredRecord[] {
    return this.topics.get(topic)?.[partition]?.slice(from, from + max) ?? [];
  }

  committedOffset(groupId: string, topic: string, partition: number): number | undefined {
    return this.committed.get(groupId)?.get(tpKey(topic, partition));
  }

  onAppend(listener: AppendListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

function tpKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}
