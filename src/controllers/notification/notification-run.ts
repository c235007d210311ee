import type { KObject, ObjectRef } from '../../api/meta.ts';
import { errorMessage } from '../../runtime/errors.ts';
import { ReconcileRun, type ReconciledStatus } from '../../runtime/reconcile-run.ts';
import type { ReadySummary } from '../../runtime/summarize.ts';
import type { Store } from '../../store/store.ts';

/**
 * One reconcile of a notification object (Provider, Alert, Receiver): run `steps` on a {@link ReconcileRun},
 * summarize and patch status once whatever happened, then rethrow the failure (as an Error) if there was one.
 * Unlike the source and apply controllers, notification objects are not marked Reconciling first (as in Flux).
 */
export async function runNotificationReconcile<T extends KObject<unknown, ReconciledStatus>>(
  store: Store,
  ref: ObjectRef,
  object: T,
  summary: ReadySummary,
  steps: (run: ReconcileRun<T>) => Promise<void>,
): Promise<void> {
  const run = new ReconcileRun(store, ref, object);
  let outcome: Error | undefined;
  try {
    await steps(run);
  } catch (error) {
    outcome = error instanceof Error ? error : new Error(errorMessage(error));
  }
  await run.finish(summary, outcome);
  if (outcome !== undefined) throw outcome;
}
