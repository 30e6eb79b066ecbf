/**
 * In-process event bus for unit tests of the features: the same semantics as the file log (per-key order,
 * partitions by Kafka's murmur2, committed offsets, atomic outputs + commit, throw → backoff → redeliver),
 * without durability. `reopen()` gives a new bus over the same log and offsets, as after a restart.
 */
import { LogEventBus, type LogEventBusOptions } from '../log/log-event-bus';
import { LogState } from '../log/log-state';

export type MemoryEventBusOptions = LogEventBusOptions;

export class MemoryEventBus extends LogEventBus {
  constructor(
    private readonly options: MemoryEventBusOptions = {},
    state: LogState = new LogState(),
  ) {
    super(state, null, null, options);
  }

  /** A new bus sharing this one's messages and committed offsets (close this one first, like a process restart). */
  reopen(): MemoryEventBus {
    return new MemoryEventBus(this.options, this.state);
  }
}
