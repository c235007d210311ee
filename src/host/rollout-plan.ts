/** A replica as the rollout planner sees it. Terminating replicas are not given to it. */
export interface PlannedReplica {
  index: number;
  /** Runs the desired template. */
  updated: boolean;
  ready: boolean;
}

export interface RolloutInput {
  desired: number;
  maxSurge: number;
  maxUnavailable: number;
  replicas: readonly PlannedReplica[];
}

/** One step of a rolling update: how many updated replicas to start, which replicas to stop. */
export interface RolloutStep {
  start: number;
  stop: number[];
}

/**
 * The next step of a Deployment-style rolling update. Guarantees: never more than `desired + maxSurge`
 * replicas after the step's starts; ready replicas stop only while at least `desired - maxUnavailable` ready
 * replicas remain; replicas that are not ready and run an old template are stopped at once (they serve
 * nothing); surplus updated replicas (scale down) go unready first, then highest index first. Applied
 * repeatedly as readiness changes, it converges on `desired` updated replicas.
 */
export function planRollout(input: RolloutInput): RolloutStep {
  const { desired } = input;
  const maxUnavailable = input.maxSurge === 0 && input.maxUnavailable === 0 ? 1 : input.maxUnavailable;
  const order = (a: PlannedReplica, b: PlannedReplica) => Number(a.ready) - Number(b.ready) || b.index - a.index;
  const updated = input.replicas.filter((r) => r.updated).sort(order);
  const old = input.replicas.filter((r) => !r.updated).sort(order);
  const stop: PlannedReplica[] = [];

  // Scale down: surplus updated replicas, the least useful first.
  stop.push(...updated.splice(0, Math.max(0, updated.length - desired)));
  // Old replicas that are not ready serve nothing.
  stop.push(...old.filter((r) => !r.ready));
  const oldReady = old.filter((r) => r.ready);
  const readyNow = oldReady.length + updated.filter((r) => r.ready).length;
  const stoppable = Math.max(0, readyNow - Math.max(0, desired - maxUnavailable));
  stop.push(...oldReady.slice(0, stoppable));

  const remaining = input.replicas.length - stop.length;
  const start = Math.max(0, Math.min(desired - updated.length, desired + input.maxSurge - remaining));
  return { start, stop: stop.map((r) => r.index) };
}

/** An int-or-percent strategy value as replicas: percentages of `desired`, rounded up for surge, down for unavailable. */
export function resolveIntOrPercent(value: number | string | undefined, desired: number, fallback: string, roundUp: boolean): number {
  const v = value ?? fallback;
  if (typeof v === 'number') return v;
  const scaled = (Number(v.slice(0, -1)) / 100) * desired;
  return roundUp ? Math.ceil(scaled) : Math.floor(scaled);
}
