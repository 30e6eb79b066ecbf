import type { Batch, ConsumedMessage } from '../event-bus.port';
import { DEFAULT_RECORD_ERROR_POLICY, isolateRecords, isTransientError, shouldIsolate } from './record-error-policy';

describe('isTransientError: by cause, not by layer', () => {
  it.each([
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })],
    ['the bus unavailable', Object.assign(new Error('x'), { code: 'bus_unavailable' })],
    ['a 503 from S3', Object.assign(new Error('x'), { $metadata: { httpStatusCode: 503 } })],
    ['a 429', Object.assign(new Error('x'), { status: 429 })],
    ['a retryable AWS SDK error', Object.assign(new Error('x'), { $retryable: {} })],
    ['ioredis after a dropped connection', new Error('Connection is closed.')],
    [
      'a wrapped network error',
      new Error('dedup store unavailable', { cause: Object.assign(new Error('x'), { code: 'ETIMEDOUT' }) }),
    ],
    ['anything marked transient', Object.assign(new Error('x'), { transient: true })],
  ])('%s is transient', (_name, err) => {
    expect(isTransientError(err)).toBe(true);
  });

  it.each([
    ['a stack overflow while serialising', new RangeError('Maximum call stack size exceeded')],
    ['a validation error', Object.assign(new Error('x'), { code: 'invalid_work_item' })],
    ['a 400 from S3 (key or metadata rejected)', Object.assign(new Error('x'), { $metadata: { httpStatusCode: 400 } })],
    ['a 404', Object.assign(new Error('x'), { status: 404 })],
    [
      'an explicit transient: false over a network-looking cause',
      Object.assign(new Error('x', { cause: { code: 'ECONNRESET' } }), { transient: false }),
    ],
    ['not an error at all', 'boom'],
  ])('%s is not', (_name, err) => {
    expect(isTransientError(err)).toBe(false);
  });
});

describe('shouldIsolate', () => {
  const policy = { ...DEFAULT_RECORD_ERROR_POLICY, poisonAfterAttempts: 3, transientBudgetMs: 60_000 };
  it('isolates a record error after poisonAfterAttempts, a transient one only after the budget', () => {
    const state = (attempts: number) => ({ firstOffset: '0', attempts, since: 0 });
    expect(shouldIsolate(state(2), new TypeError('x'), policy, 1)).toBe(false);
    expect(shouldIsolate(state(3), new TypeError('x'), policy, 1)).toBe(true);
    const down = Object.assign(new Error('x'), { code: 'ECONNREFUSED' });
    expect(shouldIsolate(state(500), down, policy, 59_999)).toBe(false);
    expect(shouldIsolate(state(500), down, policy, 60_000)).toBe(true);
  });
});

describe('isolateRecords: a record the handler left unfinished', () => {
  const msg = (offset: number): ConsumedMessage => ({
    topic: 't',
    partition: 0,
    offset: String(offset),
    timestamp: 0,
    key: 'k',
    value: Buffer.from(`m${offset}`),
    headers: {},
  });
  const batch = (...offsets: number[]): Batch => ({
    topic: 't',
    partition: 0,
    messages: offsets.map(msg),
    heartbeat: async () => undefined,
    isActive: () => true,
  });
  const out = (offset: string) => ({ topic: 'o', key: offset, value: Buffer.from(offset) });
  // Offset 11 is a long record done in steps: each call emits one step and reports it unfinished.
  const handle = async (single: Batch) => {
    const offset = single.messages[0].offset;
    return offset === '11' ? { outputs: [out('11-step')], commitThrough: '10' } : { outputs: [out(offset)] };
  };
  const dead = () => out('dead');

  it('commits what came before, with the unfinished record step outputs', async () => {
    const result = await isolateRecords(batch(10, 11, 12), handle, dead, false);
    expect(result.commitThrough).toBe('10');
    expect(result.outputs.map((o) => o.key)).toEqual(['10', '11-step']);
  });

  it('first in the batch: its step outputs go out and nothing is committed', async () => {
    const result = await isolateRecords(batch(11, 12), handle, dead, false);
    expect(result).toEqual({ outputs: [out('11-step')], commitThrough: '10' });
  });
});
