import { txRetryDelay } from './platformatic-transactions';

describe('txRetryDelay (the transactional producer of the platformatic consumer)', () => {
  // The shape of @platformatic/kafka's errors: a ResponseError whose `errors` hold ProtocolErrors with `apiId`.
  const responseError = (apiId: string) =>
    Object.assign(new Error('Received response with error'), { errors: [Object.assign(new Error(apiId), { apiId })] });

  it(
    'retries CONCURRENT_TRANSACTIONS (the previous transaction still being ' +
      'completed) after 10, 20, 40 ms, not the client default 1 s',
    () => {
      expect(
        [1, 2, 3].map((attempt) =>
          txRetryDelay(undefined, 'addPartitionsToTransaction', attempt, 6, responseError('CONCURRENT_TRANSACTIONS')),
        ),
      ).toEqual([10, 20, 40]);
    },
  );

  it('keeps 1 s for every other retriable error', () => {
    expect(txRetryDelay(undefined, 'produce', 1, 6, responseError('NOT_COORDINATOR'))).toBe(1_000);
    expect(txRetryDelay(undefined, 'produce', 1, 6, new Error('socket closed'))).toBe(1_000);
  });
});
