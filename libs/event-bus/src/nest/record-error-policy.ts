import { TOPICS } from '@zoom-pipeline/contracts';
import type { Batch, BatchResult, ConsumedMessage, OutgoingMessage } from '../event-bus.port';

/**
 * Whether an error is worth waiting out (a dependency down or slow) rather than a property of the record.
 * By cause, not by layer: network errors, our own "unavailable" codes, retryable AWS SDK errors, a 429/5xx,
 * anything that says `transient: true`, and the same one level of `cause` down.
 */
export function isTransientError(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as {
    transient?: unknown;
    code?: unknown;
    name?: unknown;
    message?: unknown;
    status?: unknown;
    $retryable?: unknown;
    $metadata?: { httpStatusCode?: number };
    cause?: unknown;
  };
  if (e.transient === true || e.$retryable) return true;
  if (e.transient === false) return false;
  if (typeof e.code === 'string' && TRANSIENT_CODES.has(e.code)) return true;
  if (typeof e.name === 'string' && TRANSIENT_NAMES.has(e.name)) return true;
  const status = typeof e.status === 'number' ? e.status : e.$metadata?.httpStatusCode;
  if (typeof status === 'number' && (status === 429 || status >= 500)) return true;
  // ioredis reports a dropped connection only in words.
  if (typeof e.message === 'string' && /Connection is closed|Stream isn't writeable|ECONNREFUSED/.test(e.message))
    return true;
  return depth < 3 && e.cause !== undefined && isTransientError(e.cause, depth + 1);
}

const TRANSIENT_CODES = new Set([
  'bus_unavailable',
  'dedup_store_unavailable',
  'store_unavailable',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);
const TRANSIENT_NAMES = new Set([
  'MaxRetriesPerRequestError',
  'TimeoutError',
  'AbortError',
  'KafkaJSConnectionError',
  'KafkaJSNumberOfRetriesExceeded',
]);

export interface RecordErrorPolicy {
  /** Where records that cannot be processed go, with the reason in headers. */
  deadLetterTopic: string;
  /** Consecutive failures of a batch before it is retried record by record (an error of the record's own). */
  poisonAfterAttempts: number;
  /** How long a batch failing only with transient errors is retried before it too is retried record by record. */
  transientBudgetMs: number;
}

export const DEFAULT_RECORD_ERROR_POLICY: RecordErrorPolicy = {
  deadLetterTopic: TOPICS.dead,
  poisonAfterAttempts: 3,
  transientBudgetMs: 24 * 3_600_000,
};

/** The retry state of the batch at the head of one partition. */
export interface HeadState {
  firstOffset: string;
  attempts: number;
  since: number;
}

/**
 * Decides, after a failed attempt at a batch, whether to keep retrying it whole (the bus backs off and redelivers)
 * or to isolate: run it record by record so one bad record is dead-lettered and the others are processed.
 */
export function shouldIsolate(state: HeadState, err: unknown, policy: RecordErrorPolicy, now: number): boolean {
  if (isTransientError(err)) return now - state.since >= policy.transientBudgetMs;
  return state.attempts >= policy.poisonAfterAttempts;
}

/** The dead-letter record for `msg`: its key, value and headers as consumed, plus why and where it came from. */
export function deadLetter(
  msg: ConsumedMessage,
  err: unknown,
  attempts: number,
  policy: RecordErrorPolicy,
  groupId: string,
): OutgoingMessage {
  const e = err as { code?: unknown; name?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : typeof e?.name === 'string' ? e.name : 'Error';
  return {
    topic: policy.deadLetterTopic,
    key: msg.key,
    value: msg.value,
    headers: {
      ...msg.headers,
      'zp-error': `${code}: ${String(e?.message ?? err)}`.slice(0, 300),
      'zp-error-code': code.slice(0, 64),
      'zp-dead-letter-reason': isTransientError(err) ? 'retry_budget_exhausted' : 'record_failed_repeatedly',
      'zp-source': `${msg.topic}/${msg.partition}/${msg.offset}`,
      'zp-consumer-group': groupId,
      'zp-attempts': String(attempts),
    },
  };
}

/**
 * Runs `handle` on one-record batches, in order. A record that fails with an error of its own is dead-lettered and
 * the others are processed; the combined result commits them all at once, so a record that succeeded is never
 * processed again. A transient failure (unless `deadOnTransient`) or a record the handler left unfinished stops
 * the run there: what came before is committed (with that record's outputs), and that record heads the next attempt.
 */
export async function isolateRecords(
  batch: Batch,
  handle: (single: Batch) => Promise<BatchResult>,
  onDead: (msg: ConsumedMessage, err: unknown) => OutgoingMessage,
  deadOnTransient: boolean,
): Promise<BatchResult> {
  const outputs: OutgoingMessage[] = [];
  let through: string | undefined;
  for (const msg of batch.messages) {
    const single: Batch = { ...batchShape(batch), messages: [msg] };
    try {
      const result = await handle(single);
      // Outputs of an unfinished record still go out, as the port says (a step of long work, e.g. a large end).
      outputs.push(...result.outputs);
      if (result.commitThrough !== undefined && BigInt(result.commitThrough) < BigInt(msg.offset)) {
        if (through === undefined && outputs.length > 0)
          return { outputs, commitThrough: (BigInt(msg.offset) - 1n).toString() };
        break;
      }
    } catch (err) {
      if (isTransientError(err) && !deadOnTransient) {
        if (through === undefined) throw err;
        break;
      }
      outputs.push(onDead(msg, err));
    }
    through = msg.offset;
  }
  if (through === undefined)
    throw Object.assign(new Error('no record of the batch could be finished'), { transient: true });
  return { outputs, commitThrough: through };
}

function batchShape(batch: Batch): Omit<Batch, 'messages'> {
  return {
    topic: batch.topic,
    partition: batch.partition,
    heartbeat: () => batch.heartbeat(),
    isActive: () => batch.isActive(),
  };
}
