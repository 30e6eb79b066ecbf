/**
 * The transaction committer of the @platformatic/kafka consumer: EVERY commit, with or without outputs, is a Kafka
 * transaction (outputs + TxnOffsetCommit + EndTxn), merged across partitions (group-commit.ts). The
 * TxnOffsetCommit carries the member stamp the messages were FETCHED under (KIP-447), so the group coordinator
 * refuses the commit of a member that was fenced or rebalanced since. A transactional producer is replaced after
 * any failed transaction (a new epoch, fresh sequence numbers).
 */
import { type ConnectionOptions } from 'node:tls';
import type { Consumer, Producer } from '@platformatic/kafka';
import { sleep } from '../retry-backoff';
import { TransactionCommitter, type TransactionCommit } from './group-commit';
import {
  type KafkaSaslConfig,
  loadPlatformatic,
  platformaticConnectionOptions,
  toPlatformaticMessages,
} from './publish-producer';

/** What the group coordinator checks on TxnOffsetCommit (KIP-447): the member and generation of the fetch. */
export interface MemberStamp {
  coordinatorId: number;
  groupId: string;
  generationId: number;
  memberId: string;
}

export interface PlatformaticCommit extends TransactionCommit {
  member: MemberStamp;
}

export interface PlatformaticTransactionsDeps {
  brokers: string[];
  clientId: string;
  ssl?: boolean | ConnectionOptions;
  sasl?: KafkaSaslConfig;
  transactionalId: string;
  transactionTimeoutMs: number;
  /** The member's consumer (the transaction is told about its group). */
  consumer(): Consumer | null;
  /** Whether the group's offset already is at or past `offset` (an ambiguous failure committed after all). */
  committedPast(topic: string, partition: number, offset: bigint): Promise<boolean>;
  /** Aborted when the member stops: retry sleeps end at once. */
  signal: AbortSignal;
}

/** TxnOffsetCommit answers that a retry of the same request may clear (the coordinator is busy or moving). */
const RETRIABLE_TXN_OFFSET_COMMIT = new Set([
  'COORDINATOR_LOAD_IN_PROGRESS',
  'CONCURRENT_TRANSACTIONS',
  'REQUEST_TIMED_OUT',
]);

/**
 * Retries of the transactional producer's requests. The broker answers CONCURRENT_TRANSACTIONS to the next
 * transaction's AddPartitionsToTxn / AddOffsetsToTxn while it still writes the previous one's commit markers
 * (usually a few ms): with the client's default (3 retries, 1 s apart) each such answer stalled the whole
 * dedup group for a second. The Java client retries it after 20 ms; here after 10, 20, 40, ... ms (6 retries,
 * 630 ms in all). Other retriable errors keep the client's 1 s delay.
 */
const TX_RETRIES = 6;
export function txRetryDelay(
  _client: unknown,
  _operation: string,
  attempt: number,
  _retries: number,
  error: unknown,
): number {
  return platformaticErrorType(error) === 'CONCURRENT_TRANSACTIONS' ? 10 * 2 ** (attempt - 1) : 1_000;
}

export class PlatformaticTransactions extends TransactionCommitter<PlatformaticCommit> {
  private txProducer: Promise<Producer<string, Buffer, string, string>> | null = null;
  /** The broker refused TxnOffsetCommit v4 once: use v3 from then on. */
  private txnOffsetCommitV3 = false;

  constructor(private readonly deps: PlatformaticTransactionsDeps) {
    super((c) => deps.committedPast(c.topic, c.partition, c.offset));
  }

  close(): Promise<void> {
    return this.discardTransactionalProducer();
  }

  protected async runTransaction(group: PlatformaticCommit[]): Promise<void> {
    const producer = await this.transactionalProducer();
    let transaction;
    try {
      transaction = await producer.beginTransaction();
    } catch (err) {
      await this.discardTransactionalProducer();
      throw err;
    }
    try {
      const outputs = group.flatMap((c) => c.outputs);
      if (outputs.length > 0) {
        await transaction.send({ messages: toPlatformaticMessages(outputs) });
      }
      await transaction.addConsumer(this.deps.consumer() as never);
      await this.txnOffsetCommit(producer, group);
      await transaction.commit();
    } catch (err) {
      // Abort, then ALWAYS start over with a new producer (a new epoch): see kafkajs-transactions.ts.
      await transaction.abort().catch(() => undefined);
      await this.discardTransactionalProducer();
      throw err;
    }
  }

  /**
   * Every partition's offset in ONE TxnOffsetCommit request per member stamp (normally one), fenced by that stamp.
   * The client's `transaction.addOffset` sends one request per partition, and only one at a time (it merges
   * concurrent calls of one operation into the first call's request, dropping the other offsets): with 12
   * partitions that was 12 round trips per transaction, the dedup's bottleneck (BENCHMARKS.md). The request is
   * the one the client builds (same API version choice: the newest this client implements, v4 on Kafka ≥ 3.8,
   * else v3, the first with the KIP-447 member fields), sent on the producer's connection to the group coordinator.
   */
  private async txnOffsetCommit(
    producer: Producer<string, Buffer, string, string>,
    group: PlatformaticCommit[],
  ): Promise<void> {
    const pk = await loadPlatformatic();
    const byStamp = new Map<string, PlatformaticCommit[]>();
    for (const c of group) {
      const k = `${c.member.coordinatorId}\0${c.member.groupId}\0${c.member.generationId}\0${c.member.memberId}`;
      const list = byStamp.get(k);
      if (list) list.push(c);
      else byStamp.set(k, [c]);
    }
    for (const commits of byStamp.values()) {
      const member = commits[0].member;
      const metadata = await producer.metadata({ topics: [...new Set(commits.map((c) => c.topic))] });
      const broker = metadata.brokers.get(member.coordinatorId);
      if (!broker) throw new Error(`group coordinator ${member.coordinatorId} is not in the cluster metadata`);
      const topics = new Map<
        string,
        Array<{ partitionIndex: number; committedOffset: bigint; committedLeaderEpoch: number }>
      >();
      for (const c of commits) {
        const partitions = topics.get(c.topic) ?? [];
        topics.set(c.topic, partitions);
        partitions.push({
          partitionIndex: c.partition,
          committedOffset: c.offset,
          committedLeaderEpoch: metadata.topics.get(c.topic)?.partitions[c.partition]?.leaderEpoch ?? -1,
        });
      }
      const request = [...topics].map(([name, partitions]) => ({ name, partitions }));
      const producerId = producer.producerId;
      const producerEpoch = producer.producerEpoch;
      if (producerId === undefined || producerEpoch === undefined)
        throw new Error('the transactional producer has no producer id');
      for (let attempt = 1; ; attempt++) {
        try {
          const connection = await producer.connections.get(broker);
          const api = this.txnOffsetCommitV3 ? pk.txnOffsetCommitV3.api : pk.txnOffsetCommitV4.api;
          await api.async(
            connection,
            this.deps.transactionalId,
            member.groupId,
            producerId,
            producerEpoch,
            member.generationId,
            member.memberId,
            null,
            request,
          );
          break;
        } catch (err) {
          const type = platformaticErrorType(err);
          if (type === 'UNSUPPORTED_VERSION' && !this.txnOffsetCommitV3) {
            this.txnOffsetCommitV3 = true; // a broker before Kafka 3.8: v3 carries the same fields
            continue;
          }
          // Transient coordinator states, as the client's own retry would: fenced and other errors fail the
          // transaction.
          if (attempt >= 5 || !type || !RETRIABLE_TXN_OFFSET_COMMIT.has(type)) throw err;
          await sleep(50 * attempt, this.deps.signal);
        }
      }
    }
  }

  private async transactionalProducer(): Promise<Producer<string, Buffer, string, string>> {
    if (!this.txProducer) {
      this.txProducer = loadPlatformatic().then(
        (pk) =>
          new pk.Producer<string, Buffer, string, string>({
            clientId: `${this.deps.clientId}-tx`,
            bootstrapBrokers: this.deps.brokers,
            transactionalId: this.deps.transactionalId,
            idempotent: true,
            // InitProducerId as a NEW producer (-1/-1). The client's default (0/0) asks the coordinator to bump
            // epoch 0 of producer id 0, which it refuses with PRODUCER_FENCED once the transactional id has a
            // history, i.e. for every replacement producer after a failed transaction. As a new producer it gets
            // the next epoch, and the coordinator aborts whatever the previous producer left open.
            producerId: -1n,
            producerEpoch: -1,
            // acks=-1 is mandatory inside a transaction (and what we want anyway: all in-sync replicas).
            acks: pk.ProduceAcks.ALL,
            // Keys on the partitions kafkajs, the Java client and the file log choose (murmur2).
            partitioner: pk.compatibilityPartitioner,
            autocreateTopics: false,
            // Sent to InitProducerId as the transaction timeout.
            timeout: this.deps.transactionTimeoutMs,
            retries: TX_RETRIES,
            retryDelay: txRetryDelay,
            ...platformaticConnectionOptions(this.deps),
            serializers: {
              key: pk.stringSerializer,
              value: (value?: Buffer) => value,
              headerKey: pk.stringSerializer,
              headerValue: pk.stringSerializer,
            },
          }),
      );
    }
    return this.txProducer;
  }

  private async discardTransactionalProducer(): Promise<void> {
    const slot = this.txProducer;
    this.txProducer = null;
    if (slot) await slot.then((p) => p.close(true)).catch(() => undefined);
  }
}

/** The Kafka error name (ILLEGAL_GENERATION, ...) of a @platformatic/kafka error, searched through its causes. */
export function platformaticErrorType(err: unknown, depth = 0): string | undefined {
  if (!err || typeof err !== 'object' || depth > 6) return undefined;
  const apiId = (err as { apiId?: unknown }).apiId;
  if (typeof apiId === 'string') return apiId;
  for (const inner of (err as { errors?: unknown[] }).errors ?? []) {
    const found = platformaticErrorType(inner, depth + 1);
    if (found) return found;
  }
  return platformaticErrorType((err as { cause?: unknown }).cause, depth + 1);
}
