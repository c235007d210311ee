import type { KObject, ObjectRef } from '../api/meta.ts';
import type { WatchEvent } from '../store/store.ts';
import type { Logger } from './logger.ts';

/** What a reconciler gets besides the key: an abort signal (shutdown) and a logger bound to the object. */
export interface ReconcileContext {
  signal: AbortSignal;
  log: Logger;
}

/** `requeueAfterMs`: when to look again if nothing changes (the object's interval). None: only on change. */
export interface ReconcileResult {
  requeueAfterMs?: number;
}

/**
 * The whole contract of a controller, after controller-runtime: read the world for `ref`, converge, report.
 * Throwing a {@link ReconcileError} (or anything) means retry with backoff, a `StallingError` means wait for a
 * spec change, a `WaitingError` means retry after its delay. Status is the reconciler's own business.
 */
export interface Reconciler {
  /** The kind this reconciler owns. */
  readonly kind: string;
  /** Reported in events and logs, Flux's name where there is one (`source-controller`). */
  readonly controllerName: string;
  reconcile(ref: ObjectRef, context: ReconcileContext): Promise<ReconcileResult>;
  /** Changes to other kinds that should reconcile objects of this kind (e.g. a source's new artifact). */
  readonly watches?: readonly RelatedWatch[];
}

export interface RelatedWatch {
  kind: string;
  /** The objects of the reconciler's kind to reconcile because `event` happened to a watched object. */
  map(event: WatchEvent): ObjectRef[] | Promise<ObjectRef[]>;
}

/** True when the object asks to be left alone (`spec.suspend: true`). */
export function isSuspended(object: KObject | undefined): boolean {
  return (object?.spec as { suspend?: unknown } | undefined)?.suspend === true;
}
