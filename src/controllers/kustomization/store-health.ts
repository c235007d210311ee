import type { ObjectRef } from '../../api/meta.ts';
import { HealthCheckError } from '../../apply/errors.ts';
import { computeStatus, type ObjectStatus } from '../../apply/kstatus.ts';
import { refString } from '../../api/meta.ts';
import type { Store } from '../../store/store.ts';
import { SourceRevisionAnnotation } from '../../api/app.ts';
import type { KObject } from '../../api/meta.ts';

/**
 * kstatus for a store object, plus one rule of the host runtime: an App applied with a source revision is
 * Current only once it runs that revision (a revision-only change keeps the generation, so Ready=True at
 * the generation alone would still describe the previous release).
 */
function storeObjectStatus(object: KObject | undefined): ObjectStatus {
  const status = computeStatus(object);
  const wanted = object?.metadata.annotations?.[SourceRevisionAnnotation];
  const running = (object?.status as { currentRevision?: string } | undefined)?.currentRevision;
  if (status.status !== 'Current' || wanted === undefined || running === wanted) return status;
  return { status: 'InProgress', message: `running revision '${running ?? 'none'}', rolling out '${wanted}'` };
}

/**
 * Waits until every store object in `refs` is Current by kstatus' rules (Kedge's kinds: Ready at their
 * generation), reacting to store changes rather than polling. Rejects with HealthCheckError on a Failed
 * (Stalled) object or at the timeout, and with the signal's reason when aborted.
 */
export async function waitForStoreHealthy(store: Store, refs: readonly ObjectRef[], options: { timeoutMs: number; signal?: AbortSignal }): Promise<void> {
  if (refs.length === 0) return;
  options.signal?.throwIfAborted();
  const report = new Map<string, ObjectStatus>();
  let settle: ((error?: unknown) => void) | undefined;
  const done = new Promise<void>((resolve, reject) => {
    settle = (error) => (error === undefined ? resolve() : reject(error instanceof Error ? error : new Error(errorText(error))));
  });
  const unhealthy = (prefix: string): HealthCheckError => {
    const list = [...report.entries()].filter(([, s]) => s.status !== 'Current').map(([ref, s]) => ({ ref, ...s }));
    return new HealthCheckError(`${prefix}: ${list.map((u) => `${u.ref} status: '${u.status}' (${u.message})`).join(', ')}`, list);
  };
  const evaluate = (): void => {
    const all = [...report.values()];
    if (all.every((s) => s.status === 'Current')) settle?.();
    else if (all.some((s) => s.status === 'Failed')) settle?.(unhealthy('health check failed'));
  };
  const keys = new Set(refs.map(refString));
  const unwatch = store.watch(undefined, (event) => {
    const key = refString({ kind: event.object.kind, namespace: event.object.metadata.namespace ?? 'default', name: event.object.metadata.name });
    if (!keys.has(key)) return;
    report.set(key, storeObjectStatus(event.type === 'DELETED' ? undefined : event.object));
    evaluate();
  });
  const timer = setTimeout(() => settle?.(unhealthy(`timeout waiting for ${refs.length} object(s)`)), options.timeoutMs);
  const onAbort = (): void => settle?.(options.signal?.reason ?? new Error('health check aborted'));
  options.signal?.addEventListener('abort', onAbort);
  try {
    for (const ref of refs) report.set(refString(ref), storeObjectStatus(await store.get(ref)));
    evaluate();
    await done;
  } finally {
    unwatch();
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  }
}

function errorText(error: unknown): string {
  return typeof error === 'string' ? error : JSON.stringify(error);
}
