import { Conditions, ReconcileRequestAnnotation } from '../api/conditions.ts';
import type { Condition, KObject, ObjectRef } from '../api/meta.ts';
import { ConflictError, type Store } from '../store/store.ts';
import { CliError } from './cli-error.ts';

/** Read-modify-write of one object, retried on conflicts with concurrent writers (the engine). */
export async function mutate(store: Store, ref: ObjectRef, change: (object: KObject) => void): Promise<KObject> {
  for (let attempt = 0; ; attempt++) {
    const object = await store.get(ref);
    if (!object) throw new CliError(`${ref.kind} '${ref.namespace}/${ref.name}' not found`);
    change(object);
    try {
      return await store.update(object);
    } catch (error) {
      if (!(error instanceof ConflictError) || attempt >= 10) throw error;
    }
  }
}

/**
 * Asks the engine to reconcile `ref` now, the way `flux reconcile` does: sets the
 * `reconcile.fluxcd.io/requestedAt` annotation to a fresh token. Returns the token.
 */
export async function requestReconcile(store: Store, ref: ObjectRef, extra?: (object: KObject, token: string) => void): Promise<string> {
  const token = new Date().toISOString();
  await mutate(store, ref, (object) => {
    extra?.(object, token);
    object.metadata.annotations = { ...object.metadata.annotations, [ReconcileRequestAnnotation]: token };
  });
  return token;
}

/** Waits until the engine has handled request `token` and returns the object with its final Ready condition. */
export async function waitForReconcile(store: Store, ref: ObjectRef, token: string, timeoutMs: number): Promise<{ object: KObject; ready: Condition }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const object = await store.get(ref);
    if (!object) throw new CliError(`${ref.kind} '${ref.namespace}/${ref.name}' was deleted while waiting`);
    const status = object.status as { lastHandledReconcileAt?: string; conditions?: Condition[] } | undefined;
    const ready = status?.conditions?.find((c) => c.type === Conditions.Ready);
    if (status?.lastHandledReconcileAt === token && ready) return { object, ready };
    if (Date.now() > deadline) {
      throw new CliError(`timed out waiting for ${ref.kind} '${ref.namespace}/${ref.name}' to be reconciled`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Sets or clears `spec.suspend` (what `kedge suspend` / `kedge resume` change). */
export function setSuspend(object: KObject, suspend: boolean): void {
  const spec = { ...(object.spec as Record<string, unknown>) };
  if (suspend) spec.suspend = true;
  else delete spec.suspend;
  object.spec = spec;
}
