/**
 * Micro-batching for the ingress's publish path. The ingress publishes once per HTTP request, thousands of
 * times a second, and an idempotent kafkajs producer allows one in-flight request per broker: sending each
 * call on its own would serialise them behind one round trip each. Instead, calls that arrive while a send is
 * in flight are queued and leave together in the next `send` (so a batch is as large as the load makes it and
 * an idle bus adds no delay beyond one event-loop turn). Each caller's promise settles with the batch that
 * carried its messages, or rejects when the caller's AbortSignal (its deadline, owned by the caller) aborts. The
 * batcher has no deadline timer of its own: a caller that gives up leaves the queue, and a send whose callers
 * have all given up is abandoned.
 */
import { sleep, untilAborted } from '@zoom-pipeline/async-kit';
import { BusUnavailableError, type OutgoingMessage } from '../event-bus.port';

export interface PublishBatcherOptions {
  /** Delivers one coalesced batch; resolves once the broker acknowledged all of it. */
  send(messages: OutgoingMessage[]): Promise<void>;
  /**
   * Called when every caller of an in-flight send has given up (their deadlines passed): the next batch goes out
   * on a fresh producer (the caller of the batcher recreates it here).
   */
  onSendAbandoned(): void;
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
  /** Sends abandoned because all their callers gave up. */
  abandoned: number;
}

interface PendingPublish {
  messages: OutgoingMessage[];
  bytes: number;
  settled: boolean;
  signal: AbortSignal;
  onAbort(): void;
  resolve(): void;
  reject(err: Error): void;
}

export class PublishBatcher {
  private queue: PendingPublish[] = [];
  private flushing: Promise<void> | null = null;
  private scheduled = false;
  readonly stats: PublishBatcherStats = { batches: 0, messages: 0, abandoned: 0 };

  constructor(private readonly options: PublishBatcherOptions) {}

  /** Queues `messages`; rejects with BusUnavailableError if they are not acknowledged before `signal` aborts. */
  publish(messages: OutgoingMessage[], signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) {
        reject(new BusUnavailableError('publish deadline passed before the send'));
        return;
      }
      const pending: PendingPublish = {
        messages,
        bytes: messages.reduce((sum, m) => sum + estimateBytes(m), 0),
        settled: false,
        signal,
        // The message may still land later (if it was already sent); that is acceptable: the caller answers
        // 503, Zoom retries and dedup suppresses the copy.
        onAbort: () => settle(pending, new BusUnavailableError('publish not acknowledged by the deadline')),
        resolve,
        reject,
      };
      signal.addEventListener('abort', pending.onAbort, { once: true });
      this.queue.push(pending);
      this.schedule();
    });
  }

  /** Resolves once nothing is queued or in flight (queued callers settle by their deadlines at the latest). */
  async drain(): Promise<void> {
    while (this.flushing || this.queue.some((p) => !p.settled)) {
      await (this.flushing ?? sleep(5));
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
    const abandoned = everyoneGaveUp(batch);
    try {
      // A send abandoned here may still reject later; untilAborted keeps that from surfacing.
      await untilAborted(this.options.send(messages), abandoned.signal);
      this.stats.messages += messages.length;
      for (const p of batch) settle(p);
    } catch (err) {
      if (abandoned.signal.aborted) {
        this.stats.abandoned += 1;
        this.options.onSendAbandoned();
        return;
      }
      const error =
        err instanceof BusUnavailableError ? err : new BusUnavailableError('publish failed', { cause: err });
      for (const p of batch) settle(p, error);
    } finally {
      abandoned.dispose();
    }
  }
}

/** A signal that aborts once every caller of `batch` has settled or given up (nobody waits for the send any more). */
function everyoneGaveUp(batch: PendingPublish[]): { signal: AbortSignal; dispose(): void } {
  const all = new AbortController();
  const check = (): void => {
    if (batch.every((p) => p.settled)) all.abort();
  };
  for (const p of batch) p.signal.addEventListener('abort', check, { once: true });
  check();
  return {
    signal: all.signal,
    dispose: () => {
      for (const p of batch) p.signal.removeEventListener('abort', check);
    },
  };
}

function settle(pending: PendingPublish, err?: Error): void {
  if (pending.settled) return;
  pending.settled = true;
  pending.signal.removeEventListener('abort', pending.onAbort);
  if (err) pending.reject(err);
  else pending.resolve();
}

/** Rough wire size of one record (value, key, headers and ~70 bytes of record overhead). */
export function estimateBytes(m: OutgoingMessage): number {
  let bytes = 70 + m.value.length + (m.key ? Buffer.byteLength(m.key) : 0);
  for (const [k, v] of Object.entries(m.headers ?? {})) bytes += Buffer.byteLength(k) + Buffer.byteLength(v) + 4;
  return bytes;
}
