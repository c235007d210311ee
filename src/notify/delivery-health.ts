import type { ObjectRef } from '../api/meta.ts';
import { refString } from '../api/meta.ts';

/** The outcome of the last delivery for a Provider or Alert. */
export interface DeliveryOutcome {
  ok: boolean;
  /** For failures: what went wrong, scrubbed of secrets. */
  message: string;
  at: string;
}

/**
 * The last delivery outcome per Provider and per Alert, written by the dispatcher and read by their
 * reconcilers to report `DeliveryFailed` in status. In memory: a restart starts clean.
 */
export class DeliveryHealth {
  private readonly outcomes = new Map<string, DeliveryOutcome>();
  private readonly listeners: Array<(ref: ObjectRef) => void> = [];

  /** Called whenever an object's outcome changes between ok and failed (or its failure message changes). */
  onChange(listener: (ref: ObjectRef) => void): void {
    this.listeners.push(listener);
  }

  record(ref: ObjectRef, ok: boolean, message = ''): void {
    const key = refString(ref);
    const before = this.outcomes.get(key);
    this.outcomes.set(key, { ok, message, at: new Date().toISOString() });
    if (before?.ok === ok && before.message === message) return;
    if (!before && ok) return;
    for (const listener of this.listeners) listener(ref);
  }

  get(ref: ObjectRef): DeliveryOutcome | undefined {
    return this.outcomes.get(refString(ref));
  }

  forget(ref: ObjectRef): void {
    this.outcomes.delete(refString(ref));
  }
}
