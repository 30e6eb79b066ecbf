/**
 * Micro-batching for the ingress's publish path. The ingress publishes once per HTTP request, thousands of
 * times a second, and an idempotent kafkajs producer allows one in-flight request per broker: sending each
 * call on its own would serialise them behind one round trip each. Instead, calls that arrive while a send is
 * in flight are queued and leave together in the next `send` (so a batch is as large as the load makes it and
 * an idle bus adds no delay beyond one event-loop turn). Each caller's promise settles with the batch that
 * carried its messages, and every caller has its own deadline.
 */
import { BusUnavailableError, type OutgoingMessage } from '../event-bus.port';

export interface PublishBatcherOptions {
  /** Delivers one coalesced batch; resolves once the broker acknowledged all of it. */
  send(messages: OutgoingMessage[]): Promise<void>;
  /**
   * Called when a send has not settled within `sendTimeoutMs`: its callers are rejected and the next batch
   * goes out on a fresh producer (the caller of the batcher recreates it here).
   */
  onSendAbandoned(): void;
  sendTimeoutMs: number;
  /** Cap per batch; a single caller's messages are never split (its promise is all-or-nothing). */
  maxBatchMessages: number;
  maxBatchBytes: number;
  /** Extra wait before sending from idle; 0 = one event-loop turn (setImmediate), collecting same-tick callers. */
  lingerMs: number;
}

export interface PublishBatcherStats {
  /** Batches handed to `send`. */
  batches: number;
  /** Messages in acknowledged batches. */
  messages: number;
  /** Sends abandoned after `sendTimeoutMs`. */
  abandoned: number;
}

interface PendingPublish {
  messages: OutgoingMessage[];
  bytes: number;
  settled: boolean;
  timer: NodeJS.Timeout;
  resolve(): void;
  reject(err: Error): void;
}

export class PublishBatcher {
  private queue: PendingPublish[] = [];
  private flushing: Promise<void> | null = null;
  private scheduled = false;
  readonly stats: PublishBatcherStats = { batches: 0, messages: 0, abandoned: 0 };

  constructor(private readonly options: PublishBatcherOptions) {}

  /** Queues `messages`; rejects with BusUnavailableError if they are not acknowledged by `deadlineAt` (epoch ms). */
  publish(messages: OutgoingMessage[], deadlineAt: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const remaining = deadlineAt - Date.now();
      if (remaining <= 0) {
        reject(new BusUnavailableError('publish deadline passed before the send'));
        return;
      }
      const pending: PendingPublish = {
        messages,
        bytes: messages.reduce((sum, m) => sum + estimateBytes(m), 0),
        settled: false,
        resolve,
        reject,
        // The message may still land later (if it was already sent); that is acceptable: the caller answers
        // 503, Zoom retries and dedup suppresses the copy.
        timer: setTimeout(
          () =>
            settle(
              pending,
              new BusUnavailableError(`publish not acknowledged within ${this.options.sendTimeoutMs} ms`),
            ),
          remaining,
        ),
      };
      this.queue.push(pending);
      this.schedule();
    });
  }

  /** Resolves once nothing is queued or in flight (queued callers settle by their deadlines at the latest). */
  async drain(): Promise<void> {
    while (this.flushing || this.queue.some((p) => !p.settled)) {
      await (this.flushing ?? new Promise<void>((resolve) => setTimeout(resolve, 5)));
    }
  }

  private schedule(): void {
    if (this.flushing || this.scheduled) return;
    this.scheduled = true;
    const start = (): void => {
      this.scheduled = false;
      this.flushing = this.flush().finally(() => {
        this.flushing = null;
        if (this.queue.length > 0) this.schedule();
      });
    };
    if (this.options.lingerMs > 0) setTimeout(start, this.options.lingerMs);
    else setImmediate(start);
  }

  /** Sends batch after batch until the queue is empty: whatever queued during a send leaves right after it. */
  private async flush(): Promise<void> {
    for (;;) {
      this.queue = this.queue.filter((p) => !p.settled);
      if (this.queue.length === 0) return;
      await this.sendOne(this.takeBatch());
    }
  }

  private takeBatch(): PendingPublish[] {
    let count = 0;
    let messages = 0;
    let bytes = 0;
    while (count < this.queue.length) {
      const next = this.queue[count];
      if (
        count > 0 &&
        (messages + next.messages.length > this.options.maxBatchMessages ||
          bytes + next.bytes > this.options.maxBatchBytes)
      ) {
        break;
      }
      messages += next.messages.length;
      bytes += next.bytes;
      count++;
    }
    return this.queue.splice(0, count);
  }

  private async sendOne(batch: PendingPublish[]): Promise<void> {
    const messages = batch.flatMap((p) => p.messages);
    this.stats.batches += 1;
    let guard: NodeJS.Timeout | undefined;
    const sending = this.options.send(messages);
    // A send abandoned by the guard may still reject later; nobody awaits it then.
    sending.catch(() => undefined);
    try {
      const outcome = await Promise.race([
        sending.then(() => 'acked' as const),
        new Promise<'stuck'>((resolve) => {
          guard = setTimeout(() => resolve('stuck'), this.options.sendTimeoutMs);
        }),
      ]);
      if (outcome === 'stuck') {
        this.stats.abandoned += 1;
        this.options.onSendAbandoned();
        for (const p of batch)
          settle(p, new BusUnavailableError(`publish not acknowledged within ${this.options.sendTimeoutMs} ms`));
        return;
      }
      this.stats.messages += messages.length;
      for (const p of batch) settle(p);
    } catch (err) {
      const error =
        err instanceof BusUnavailableError ? err : new BusUnavailableError('publish failed', { cause: err });
      for (const p of batch) settle(p, error);
    } finally {
      clearTimeout(guard);
    }
  }
}

function settle(pending: PendingPublish, err?: Error): void {
  if (pending.settled) return;
  pending.settled = true;
  clearTimeout(pending.timer);
  if (err) pending.reject(err);
  else pending.resolve();
}

/** Rough wire size of one record (value, key, headers and ~70 bytes of record overhead). */
export function estimateBytes(m: OutgoingMessage): number {
  let bytes = 70 + m.value.length + (m.key ? Buffer.byteLength(m.key) : 0);
  for (const [k, v] of Object.entries(m.headers ?? {})) bytes += Buffer.byteLength(k) + Buffer.byteLength(v) + 4;
  return bytes;
}
