import type { CanaryStatus, CanaryStep } from '../../api/app-canary.ts';
import { parseDuration } from '../../api/duration.ts';

/** The canary's weight at step `index`: the last `setWeight` at or before it (0 before any). */
export function weightAt(steps: readonly CanaryStep[], index: number): number {
  for (let i = Math.min(index, steps.length - 1); i >= 0; i--) {
    const weight = steps[i]!.setWeight;
    if (weight !== undefined) return weight;
  }
  return 0;
}

/**
 * After a passing analysis: the next step when the current one is done (a `setWeight` once it was measured,
 * a timed pause once its duration passed, an indefinite pause never: it waits for `kedge promote`), else
 * the status unchanged. Past the last step the phase becomes `Promoting`.
 */
export function advance(status: CanaryStatus, steps: readonly CanaryStep[], now: number): CanaryStatus {
  const step = steps[status.currentStep];
  if (!step) return { ...status, phase: 'Promoting' };
  if (step.pause) {
    if (step.pause.duration === undefined) return status;
    if (now - Date.parse(status.stepStartedAt) < parseDuration(step.pause.duration)) return status;
  }
  const next = status.currentStep + 1;
  const moved: CanaryStatus = {
    ...status,
    currentStep: next,
    weight: weightAt(steps, next),
    stepStartedAt: new Date(now).toISOString(),
  };
  return next >= steps.length ? { ...moved, phase: 'Promoting', weight: status.weight } : moved;
}

/** Milliseconds until the next analysis is due (≤ 0: now). */
export function analysisDueInMs(status: CanaryStatus, intervalMs: number, now: number): number {
  const last = Date.parse(status.lastAnalysisAt ?? status.stepStartedAt);
  return last + intervalMs - now;
}

/** Milliseconds until the current timed pause ends, when it is one. */
export function pauseEndsInMs(
  status: CanaryStatus,
  steps: readonly CanaryStep[],
  now: number,
): number | undefined {
  const duration = steps[status.currentStep]?.pause?.duration;
  return duration === undefined
    ? undefined
    : Date.parse(status.stepStartedAt) + parseDuration(duration) - now;
}

/** `step 2/5 (weight 10%)`, for messages. */
export function describeStep(status: CanaryStatus, steps: readonly CanaryStep[]): string {
  const step = steps[status.currentStep];
  const what = !step
    ? 'done'
    : step.pause
      ? step.pause.duration
        ? `pause ${step.pause.duration}`
        : 'pause until promoted'
      : `setWeight ${step.setWeight}`;
  return `step ${Math.min(status.currentStep + 1, steps.length)}/${steps.length} (${what}, weight ${status.weight}%)`;
}
