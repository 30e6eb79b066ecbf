/**
 * register.ts (loaded first, before Nest) stores its SDK's shutdown here; the service kit calls
 * shutdownTelemetry() after the Nest app closed so the last spans are exported. A global slot, not a module
 * variable, because the register module and this one may be loaded through different paths.
 */
import { withTimeout } from '@zoom-pipeline/async-kit';

const SLOT = Symbol.for('zoom-pipeline.telemetry.shutdown');

type Holder = { [SLOT]?: () => Promise<void> };

export function setTelemetryShutdown(fn: (() => Promise<void>) | undefined): void {
  (globalThis as Holder)[SLOT] = fn;
}

/** Flushes and stops the OpenTelemetry SDK if register.ts started one; a no-op otherwise. Never throws. */
export async function shutdownTelemetry(timeoutMs = 5_000): Promise<void> {
  const fn = (globalThis as Holder)[SLOT];
  if (!fn) return;
  setTelemetryShutdown(undefined);
  try {
    await withTimeout(fn(), timeoutMs, () => undefined);
  } catch {
    /* exporting is best effort: shutting down must not fail because the collector is gone */
  }
}
