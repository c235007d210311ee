import { createHash } from 'node:crypto';
import type { FluxEvent } from './flux-event.ts';

/** Flux's window for dropping repeats of one event. */
export const DUPLICATE_WINDOW_MS = 5 * 60_000;

/**
 * Drops repeats of an event within a window, keyed (as Flux's event server) on the involved object, the
 * message and the metadata, so a failing reconcile does not page someone every retry.
 */
export class DuplicateFilter {
  private readonly seen = new Map<string, number>();

  constructor(private readonly windowMs = DUPLICATE_WINDOW_MS) {}

  /** True the first time an event is seen in the window; false for repeats. */
  admit(event: FluxEvent, now = Date.now()): boolean {
    this.prune(now);
    const o = event.involvedObject;
    const metadata = Object.entries(event.metadata ?? {}).sort(([a], [b]) => a.localeCompare(b));
    const key = createHash('sha256')
      .update(JSON.stringify([o.kind, o.namespace, o.name, event.message, metadata]))
      .digest('hex');
    const last = this.seen.get(key);
    if (last !== undefined && now - last < this.windowMs) return false;
    this.seen.set(key, now);
    return true;
  }

  private prune(now: number): void {
    if (this.seen.size < 1000) return;
    for (const [key, at] of this.seen) if (now - at >= this.windowMs) this.seen.delete(key);
  }
}
