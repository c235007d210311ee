import { Conditions } from '../../src/api/conditions.ts';
import type { Condition, KObject } from '../../src/api/meta.ts';
import type { EngineMetrics } from '../../src/runtime/metrics.ts';
import type { Store } from '../../src/store/store.ts';

/** Count and summed seconds of one git operation, from `kedge_git_fetch_duration_seconds`. */
export interface GitOpTotals {
  count: number;
  seconds: number;
}

/** Git operations the engine ran so far, by operation (successes and failures together). */
export async function gitOps(
  metrics: EngineMetrics,
): Promise<{ lsRemote: GitOpTotals; checkout: GitOpTotals }> {
  const { values } = await metrics.gitFetchDuration.get();
  const total = (operation: string, suffix: '_count' | '_sum'): number =>
    values
      .filter(
        (v) =>
          v.metricName === `kedge_git_fetch_duration_seconds${suffix}` && v.labels['operation'] === operation,
      )
      .reduce((sum, v) => sum + v.value, 0);
  return {
    lsRemote: { count: total('ls-remote', '_count'), seconds: total('ls-remote', '_sum') },
    checkout: { count: total('checkout', '_count'), seconds: total('checkout', '_sum') },
  };
}

/** Difference between two {@link gitOps} readings. */
export function gitOpsSince(
  before: Awaited<ReturnType<typeof gitOps>>,
  after: Awaited<ReturnType<typeof gitOps>>,
): Awaited<ReturnType<typeof gitOps>> {
  const diff = (a: GitOpTotals, b: GitOpTotals): GitOpTotals => ({
    count: b.count - a.count,
    seconds: b.seconds - a.seconds,
  });
  return { lsRemote: diff(before.lsRemote, after.lsRemote), checkout: diff(before.checkout, after.checkout) };
}

function readyAtGeneration(object: KObject): boolean {
  const conditions = (object.status as { conditions?: Condition[] } | undefined)?.conditions ?? [];
  const ready = conditions.find((c) => c.type === Conditions.Ready);
  return ready?.status === 'True' && ready.observedGeneration === object.metadata.generation;
}

/** Resolves once `count` GitRepositories in `namespace` are Ready at their current generation; throws on timeout. */
export async function waitAllReady(
  store: Store,
  namespace: string,
  count: number,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const objects = await store.list('GitRepository', { namespace });
    const ready = objects.filter(readyAtGeneration).length;
    if (ready >= count) return;
    if (Date.now() > deadline)
      throw new Error(`only ${ready}/${count} GitRepositories Ready after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Resolves with the time (performance.now()) at which the GitRepository's artifact revision ends with `commit`. */
export async function waitForRevision(
  store: Store,
  namespace: string,
  name: string,
  commit: string,
  timeoutMs: number,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const object = (await store.get({ kind: 'GitRepository', namespace, name })) as
      KObject<unknown, { artifact?: { revision: string } }> | undefined;
    if (object?.status?.artifact?.revision.endsWith(commit)) return performance.now();
    if (Date.now() > deadline)
      throw new Error(`GitRepository ${namespace}/${name} did not reach ${commit} in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
