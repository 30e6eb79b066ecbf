/**
 * The transaction committer of the kafkajs consumer: outputs + the group's offsets in one Kafka transaction
 * (send, sendOffsets, commit) on a transactional producer owned by the member, merged across partitions
 * (group-commit.ts). kafkajs refuses concurrent transactions on one producer, so one runs at a time.
 */
import { type Kafka, type Producer, Partitioners } from 'kafkajs';
import { TransactionCommitter, type TransactionCommit } from './group-commit';
import { toTopicMessages } from './kafka-messages';

export interface KafkajsTransactionsDeps {
  kafka: Kafka;
  groupId: string;
  transactionalId: string;
  transactionTimeoutMs: number;
  /** Whether the group's offset already is at or past `offset` (an ambiguous failure committed after all). */
  committedPast(topic: string, partition: number, offset: bigint): Promise<boolean>;
}

export class KafkajsTransactions extends TransactionCommitter<TransactionCommit> {
  private txProducer: { producer: Producer; ready: Promise<void> } | null = null;

  constructor(private readonly deps: KafkajsTransactionsDeps) {
    super((c) => deps.committedPast(c.topic, c.partition, c.offset));
  }

  close(): Promise<void> {
    return this.discardTransactionalProducer();
  }

  protected async runTransaction(group: TransactionCommit[]): Promise<void> {
    const producer = await this.transactionalProducer();
    let transaction;
    try {
      transaction = await producer.transaction();
    } catch (err) {
      await this.discardTransactionalProducer();
      throw err;
    }
    try {
      const outputs = group.flatMap((c) => c.outputs);
      // acks=-1 is mandatory inside a transaction (and what we want anyway: all in-sync replicas).
      if (outputs.length > 0) await transaction.sendBatch({ topicMessages: toTopicMessages(outputs), acks: -1 });
      const byTopic = new Map<string, Array<{ partition: number; offset: string }>>();
      for (const c of group) {
        const list = byTopic.get(c.topic) ?? [];
        list.push({ partition: c.partition, offset: c.offset.toString() });
        byTopic.set(c.topic, list);
      }
      await transaction.sendOffsets({
        consumerGroupId: this.deps.groupId,
        topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
      });
      await transaction.commit();
    } catch (err) {
      // Abort, then ALWAYS start over with a new producer (a new epoch). A produce that failed for one
      // partition may still have appended to the others, and kafkajs does not advance its sequence numbers
      // after a failed request: reusing the producer, the next transaction's records for those partitions
      // carry the same sequence numbers and the broker drops them as duplicates of the aborted ones, while
      // the offsets commit. (Found by the merged-transaction test in kafka-event-bus.int-spec.ts.) If the
      // abort itself fails, initialising the same transactional id aborts whatever is left open.
      await transaction.abort().catch(() => undefined);
      await this.discardTransactionalProducer();
      throw err;
    }
  }

  private async transactionalProducer(): Promise<Producer> {
    if (!this.txProducer) {
      const producer = this.deps.kafka.producer({
        transactionalId: this.deps.transactionalId,
        idempotent: true,
        maxInFlightRequests: 1,
        transactionTimeout: this.deps.transactionTimeoutMs,
        createPartitioner: Partitioners.DefaultPartitioner,
        allowAutoTopicCreation: false,
      });
      this.txProducer = { producer, ready: producer.connect() };
    }
    const slot = this.txProducer;
    try {
      await slot.ready;
      return slot.producer;
    } catch (err) {
      if (this.txProducer === slot) this.txProducer = null;
      void slot.producer.disconnect().catch(() => undefined);
      throw err;
    }
  }

  private async discardTransactionalProducer(): Promise<void> {
    const slot = this.txProducer;
    this.txProducer = null;
    if (slot) await slot.producer.disconnect().catch(() => undefined);
  }
}
