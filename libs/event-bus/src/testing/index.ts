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
