import type { ObjectRef } from '../../api/meta.ts';
import { mutate, requestReconcile, setSuspend } from '../../cli/reconcile-request.ts';
import { releaseRollback, rollback, RollbackError } from '../../rollback/rollback.ts';
import type { Store } from '../../store/store.ts';

/** An action the dashboard offers; each takes the same path as its CLI command. */
export type DashboardAction = 'reconcile' | 'suspend' | 'resume' | 'rollback' | 'release';

export const dashboardActions: readonly DashboardAction[] = [
  'reconcile',
  'suspend',
  'resume',
  'rollback',
  'release',
];

/** What `rollback` takes, as `kedge rollback … --to REVISION` (else one step back). */
export interface RollbackOptions {
  to?: string;
}

/** A refused action: the object is missing (404) or not in a state for it (409). */
export class ActionRefused extends Error {
  constructor(
    readonly status: 404 | 409,
    message: string,
  ) {
    super(message);
    this.name = 'ActionRefused';
  }
}

/**
 * Runs `action` on `ref` through the store, as `kedge reconcile|suspend|resume` do (the reconcile request
 * annotation, `spec.suspend`) and `kedge rollback [--to REV] | --release` (src/rollback), without waiting: the
 * dashboard sees the result arrive on its live stream. Returns the reconcile request token where one was set,
 * the revision a rollback holds at.
 */
export async function runAction(
  store: Store,
  action: DashboardAction,
  ref: ObjectRef,
  options: RollbackOptions = {},
): Promise<{ requestedAt?: string; heldAt?: string; released?: boolean }> {
  const current = await store.get(ref);
  if (!current) throw new ActionRefused(404, `${ref.kind} '${ref.namespace}/${ref.name}' not found`);
  const suspended = (current.spec as { suspend?: boolean } | undefined)?.suspend === true;
  try {
    switch (action) {
      case 'reconcile':
        if (suspended) throw new ActionRefused(409, `${ref.kind} ${ref.name} is suspended: resume it first`);
        return { requestedAt: await requestReconcile(store, ref) };
      case 'suspend':
        await mutate(store, ref, (o) => setSuspend(o, true));
        return {};
      case 'resume':
        return { requestedAt: await requestReconcile(store, ref, (o) => setSuspend(o, false)) };
      case 'rollback':
        return { heldAt: (await rollback(store, ref, { to: options.to })).hold.revision };
      case 'release':
        return { released: await releaseRollback(store, ref) };
    }
  } catch (error) {
    if (error instanceof RollbackError) throw new ActionRefused(409, error.message);
    throw error;
  }
}
