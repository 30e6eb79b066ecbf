/**
 * The batch loop of every consumer (kafkajs, @platformatic/kafka, the embedded log), written once:
 *
 * 1. hand the batch to the handler; a throw means "not processed": back off and hand it the SAME messages again,
 *    for as long as the adapter says the batch is still ours (`isActive`); nothing is committed meanwhile;
 * 2. validate `commitThrough` (a bad one is a handler bug, treated like a throw) and let the adapter prepare the
 *    commit (output topics must exist, etc.; a throw there is treated like a handler throw as well);
 * 3. commit outputs and offsets together, retrying the COMMIT with the same outputs (not the work) until it
 *    succeeds, the adapter gives up (fenced, partition moved) or a stopping consumer has tried a few times.
 *
 * What stays in the adapter: fetching and chunking, the commit itself (a Kafka transaction, one journal record),
 * rebalance and assignment handling, fencing, and what to do after the commit (advance, seek, resolve).
 */
import { backoffDelay, sleep, type RetryBackoff } from './retry-backoff';
import { type EventBusLogger, type LogFields, errorMessage } from './event-bus.logger';
import {
  type Batch,
  type BatchResult,
  type ConsumedMessage,
  type ConsumeOptions,
  DEFAULT_MAX_BATCH_BYTES,
  DEFAULT_MAX_BATCH_SIZE,
} from './event-bus.port';

/** How often a stopping consumer retries the commit of a finished batch before leaving it for redelivery. */
export const COMMIT_ATTEMPTS_WHEN_STOPPING = 3;

export interface BatchLoopDeps {
  groupId: string;
  eachBatch(batch: Batch): Promise<BatchResult>;
  logger: EventBusLogger;
  backoff: RetryBackoff;
  /** Aborted when the consumer stops: backoff sleeps end at once. */
  signal: AbortSignal;
}

/** The loop's deps for a consumer of `options`. */
export function batchLoopDeps(
  options: ConsumeOptions,
  deps: Pick<BatchLoopDeps, 'logger' | 'backoff'>,
  signal: AbortSignal,
): BatchLoopDeps {
  const { logger, backoff } = deps;
  return { groupId: options.groupId, eachBatch: (batch) => options.eachBatch(batch), logger, backoff, signal };
}

/** Bounds of one handler call: messages and value bytes (a single larger message still goes alone). */
export function batchLimits(options: Pick<ConsumeOptions, 'maxBatchSize' | 'maxBatchBytes'>): {
  maxCount: number;
  maxBytes: number;
} {
  return {
    maxCount: Math.max(1, options.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE),
    maxBytes: options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES,
  };
}

/** How one batch's commit is made and retried; `run` is the client-specific part. */
export interface BatchCommit {
  /** Commits outputs and offsets atomically. */
  run(): Promise<void>;
  /** Checked before every attempt: false gives the batch up (it is redelivered to the partition's owner). */
  mayAttempt?(attempt: number): boolean;
  /** Checked before a retry: the previous attempt committed after all (its answer was lost), so it is done. */
  committedAfterAll?(): Promise<boolean>;
  /** True for an error after which a retry is pointless (the member was fenced): the batch is given up. */
  isFenced?(err: unknown): boolean;
  /** A stopping consumer tries COMMIT_ATTEMPTS_WHEN_STOPPING times and sleeps its backoffs in full. */
  stopping(): boolean;
  /** Extra fields of the "commit failed" log line. */
  logFields?(err: unknown): LogFields;
}

export interface BatchRun<P> {
  /** What the handler sees. */
  batch: Batch;
  /** False once the batch is no longer ours (stopping, partition lost): no further handler call. */
  isActive(): boolean;
  /** Called before each handler call (progress for isHealthy). */
  onAttempt?(): void;
  /**
   * After the handler returned: what to commit for `through` (the validated commitThrough), or null when there is
   * nothing to commit. A throw counts as a handler throw (the batch is handled again).
   */
  prepare(result: BatchResult, through: bigint): P | null | Promise<P | null>;
  /** How to commit what `prepare` returned. */
  commit(plan: P): BatchCommit;
}

export interface HandledBatch<P> {
  result: BatchResult;
  /** Offset of the last message processed (first offset - 1: none). */
  through: bigint;
  /** What was committed (null: nothing needed committing). */
  plan: P | null;
}

/** Runs one batch to its commit. Null: the batch was given up uncommitted and will be delivered again. */
export async function runBatch<P>(deps: BatchLoopDeps, run: BatchRun<P>): Promise<HandledBatch<P> | null> {
  const handled = await handleWithRetry(deps, run);
  if (!handled) return null;
  if (handled.plan !== null) {
    const fields = { topic: run.batch.topic, partition: run.batch.partition };
    if (!(await commitWithRetry(deps, fields, run.commit(handled.plan)))) return null;
  }
  return handled;
}

async function handleWithRetry<P>(deps: BatchLoopDeps, run: BatchRun<P>): Promise<HandledBatch<P> | null> {
  const { batch } = run;
  for (let attempt = 1; ; attempt++) {
    // Do not start (or restart) work on a partition we are giving up; it is redelivered to its next owner.
    if (!run.isActive()) return null;
    run.onAttempt?.();
    try {
      const result = await deps.eachBatch(batch);
      const through = commitThroughOf(result, batch.messages);
      const plan = await run.prepare(result, through);
      return { result, through, plan };
    } catch (err) {
      // "Not processed": nothing is committed and the same messages come again. Never skip.
      deps.logger.warn(
        {
          groupId: deps.groupId,
          topic: batch.topic,
          partition: batch.partition,
          firstOffset: batch.messages[0].offset,
          attempt,
          error: errorMessage(err),
        },
        'batch handler failed; redelivering after backoff',
      );
      if (!run.isActive()) return null;
      await sleep(backoffDelay(attempt, deps.backoff), deps.signal);
    }
  }
}

/** Commits with retries; false when the commit was given up (the batch is redelivered). */
export async function commitWithRetry(
  deps: Pick<BatchLoopDeps, 'groupId' | 'logger' | 'backoff' | 'signal'>,
  fields: { topic: string; partition: number },
  commit: BatchCommit,
): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    if (commit.mayAttempt && !commit.mayAttempt(attempt)) return false;
    // An ambiguous failure (committed, but the answer was lost) must not publish the outputs a second time.
    if (attempt > 1 && commit.committedAfterAll && (await commit.committedAfterAll())) return true;
    try {
      await commit.run();
      return true;
    } catch (err) {
      if (commit.isFenced?.(err)) return false;
      deps.logger.warn(
        { groupId: deps.groupId, ...fields, ...commit.logFields?.(err), attempt, error: errorMessage(err) },
        'batch commit failed; retrying',
      );
      const stopping = commit.stopping();
      if (stopping && attempt >= COMMIT_ATTEMPTS_WHEN_STOPPING) return false;
      // The handler's work is done: retry the commit with the same outputs instead of redoing the work.
      await sleep(backoffDelay(attempt, deps.backoff), stopping ? undefined : deps.signal);
    }
  }
}

/** The offset through which to commit; validates `commitThrough` (a handler bug is treated like a throw). */
export function commitThroughOf(result: BatchResult, messages: ConsumedMessage[]): bigint {
  const first = BigInt(messages[0].offset);
  const last = BigInt(messages[messages.length - 1].offset);
  if (result.commitThrough === undefined) return last;
  let through: bigint;
  try {
    through = BigInt(result.commitThrough);
  } catch {
    throw new Error(`commitThrough ${result.commitThrough} is not an offset`);
  }
  if (through < first - 1n || through > last) {
    throw new Error(`commitThrough ${result.commitThrough} is outside the batch [${first}, ${last}]`);
  }
  return through;
}
