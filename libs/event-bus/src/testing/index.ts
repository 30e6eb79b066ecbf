export {
  describeEventBusContract,
  type EventBusContractHarness,
  delay,
  deferred,
  type Deferred,
  totalLag,
  waitForLag,
  waitUntil,
} from './event-bus.contract';
export { appendTornHeader, tearLastJournalFrame } from './journal-faults';

import type { Batch } from '../event-bus.port';
import type { HandlerBatch } from '../nest/bus-handler.decorator';
import { openRecordSpans } from '../nest/event-bus.transport';

/** A batch as a `@BusHandler` receives it from the transport (record spans included), for handler unit tests. */
export function handlerBatch(batch: Batch, groupId = 'test'): HandlerBatch {
  return openRecordSpans(batch, groupId).batch;
}
