import type { PlannedReplica, RolloutStep } from '../rollout-plan.ts';

/**
 * The next step while a canary runs: only replicas of the new template (`updated`) are started or stopped,
 * to reach `desired` of them; the stable replicas are left alone. Surplus canary replicas go unready first,
 * then highest index first (0 at a rollback: every canary replica stops).
 */
export function planCanary(desired: number, replicas: readonly PlannedReplica[]): RolloutStep {
  const canary = replicas
    .filter((r) => r.updated)
    .sort((a, b) => Number(a.ready) - Number(b.ready) || b.index - a.index);
  const surplus = Math.max(0, canary.length - desired);
  return { start: Math.max(0, desired - canary.length), stop: canary.slice(0, surplus).map((r) => r.index) };
}
