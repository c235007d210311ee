import type { ObjectRef } from '../../api/meta.ts';
import { mutate, requestReconcile, setSuspend } from '../../cli/reconcile-request.ts';
import type { Store } from '../../store/store.ts';

/** An action the dashboard offers; each takes the same path as its CLI command. */
export type DashboardAction = 'reconcile' | 'suspend' | 'resume';

export const dashboardActions: readonly DashboardAction[] = ['reconcile', 'suspend', 'resume'];

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
 * annotation, `spec.suspend`), without waiting: the dashboard sees the result arrive on its live stream.
 * Returns the reconcile request token where one was set.
 */
export async function runAction(
  store: Store,
  action: DashboardAction,
  ref: ObjectRef,
): Promise<{ requestedAt?: string }> {
  const current = await store.get(ref);
  if (!current) throw new ActionRefused(404, `${ref.kind} '${ref.namespace}/${ref.name}' not found`);
  const suspended = (current.spec as { suspend?: boolean } | undefined)?.suspend === true;
  switch (action) {
    case 'reconcile':
      if (suspended) throw new ActionRefused(409, `${ref.kind} ${ref.name} is suspended: resume it first`);
      return { requestedAt: await requestReconcile(store, ref) };
    case 'suspend':
      await mutate(store, ref, (o) => setSuspend(o, true));
      return {};
    case 'resume':
      return { requestedAt: await requestReconcile(store, ref, (o) => setSuspend(o, false)) };
  }
}
