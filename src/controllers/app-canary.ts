import {
  CanaryAbortAnnotation,
  CanaryPromoteAnnotation,
  type CanaryStatus,
  type CanaryStrategy,
  type RevisionTraffic,
} from '../api/app-canary.ts';
import type { App } from '../api/app.ts';
import { Conditions, Reasons } from '../api/conditions.ts';
import { formatDuration, parseDuration } from '../api/duration.ts';
import { analyseCanary } from '../host/canary/canary-analysis.ts';
import {
  advance,
  analysisDueInMs,
  describeStep,
  pauseEndsInMs,
  weightAt,
} from '../host/canary/canary-steps.ts';
import { LatencyHistogram } from '../host/canary/latency-histogram.ts';
import type { RevisionCounts } from '../host/canary/revision-stats.ts';
import type { AppObservation, DesiredApp, HostRuntime } from '../host/host-runtime.ts';
import { templateHash } from '../host/replica-template.ts';
import { StallingError, WaitingError } from '../runtime/errors.ts';
import type { EventRecorder } from '../runtime/event-recorder.ts';
import type { ReconcileRun } from '../runtime/reconcile-run.ts';

const CONTROLLER = 'kedge-host-runtime';
const REVISION_ANNOTATION = 'kedge.dev/revision';

export interface CanaryReleaseDeps {
  runtime: HostRuntime;
  events: EventRecorder;
}

/** How the App reconciler converges and records replicas; the canary path uses both. */
export interface CanaryHooks {
  converge: (desired: DesiredApp) => Promise<AppObservation>;
  record: (seen: AppObservation, desired: DesiredApp) => void;
}

/**
 * The canary path of an App (`spec.strategy.canary`), run by the App reconciler once the new revision's
 * release is ready. While the App's stable replicas (the last completed template) differ from the desired
 * template, it runs the canary's own replicas next to them, sets the proxy's split to the current step's
 * weight, runs an analysis every interval, advances a step after a passing one, and rolls back after
 * `failureLimit` failed ones (canary replicas drained and stopped, Ready=False `CanaryFailed`, a Warning
 * event). `status.canary` records where it stands, so a restarted engine resumes at the recorded step with
 * the replicas it adopted. Returns `rolling` when the reconciler's rolling update is what runs now (no
 * canary strategy, the App's first rollout, or the canary being promoted); otherwise throws to wait or stall.
 */
export class CanaryReleases {
  constructor(private readonly deps: CanaryReleaseDeps) {}

  async reconcile(run: ReconcileRun<App>, desired: DesiredApp, hooks: CanaryHooks): Promise<'rolling'> {
    const strategy = run.object.spec?.strategy?.canary;
    if (!strategy) {
      delete run.status.canary;
      return 'rolling';
    }
    const hash = templateHash(desired.template);
    const stable = this.deps.runtime.stableTemplateHash(run.ref);
    if (stable === undefined || stable === hash) return 'rolling';

    let canary = run.status.canary;
    if (!canary || canary.templateHash !== hash) canary = await this.begin(run, desired, hash, strategy);
    canary = await this.handleRequests(run, canary);
    run.status.canary = canary;
    if (canary.phase === 'Promoting' || canary.phase === 'Succeeded') return 'rolling';
    if (canary.phase === 'Failed') return this.holdRolledBack(run, desired, hooks, canary);
    return this.progress(run, desired, hooks, strategy, canary);
  }

  /** After a completed rolling update: a promoted canary has succeeded. */
  async promoted(run: ReconcileRun<App>, desired: DesiredApp): Promise<void> {
    const canary = run.status.canary;
    if (!canary || canary.phase !== 'Promoting' || canary.templateHash !== templateHash(desired.template))
      return;
    run.status.canary = {
      ...canary,
      phase: 'Succeeded',
      weight: 100,
      message: `promoted revision '${canary.canaryRevision}'`,
    };
    await this.event(
      run,
      'Normal',
      'Succeeded',
      `canary of revision '${canary.canaryRevision}' promoted: every replica runs it`,
    );
  }

  private async begin(
    run: ReconcileRun<App>,
    desired: DesiredApp,
    hash: string,
    strategy: CanaryStrategy,
  ): Promise<CanaryStatus> {
    const annotations = run.object.metadata.annotations ?? {};
    // The window of the previous canary (or none) must not count for this one.
    await this.deps.runtime.trafficStats(run.ref, true);
    const now = new Date().toISOString();
    const canary: CanaryStatus = {
      phase: 'Progressing',
      templateHash: hash,
      stableRevision: run.status.currentRevision,
      canaryRevision: desired.template.revision,
      currentStep: 0,
      weight: weightAt(strategy.steps, 0),
      stepStartedAt: now,
      failedChecks: 0,
      handledPromote: annotations[CanaryPromoteAnnotation],
      handledAbort: annotations[CanaryAbortAnnotation],
    };
    await this.event(
      run,
      'Normal',
      'Progressing',
      `new revision '${canary.canaryRevision}': starting canary analysis against '${canary.stableRevision ?? 'unknown'}'`,
    );
    return canary;
  }

  /** `kedge promote` skips the remaining steps; `kedge abort` rolls back (each acted on once per request). */
  private async handleRequests(run: ReconcileRun<App>, canary: CanaryStatus): Promise<CanaryStatus> {
    const annotations = run.object.metadata.annotations ?? {};
    const abort = annotations[CanaryAbortAnnotation];
    const promote = annotations[CanaryPromoteAnnotation];
    let next = canary;
    if (abort !== undefined && abort !== canary.handledAbort) {
      next = { ...next, handledAbort: abort };
      if (next.phase === 'Progressing')
        next = await this.fail(
          run,
          next,
          `canary of revision '${canary.canaryRevision}' aborted by hand ('kedge abort')`,
        );
    }
    if (promote !== undefined && promote !== next.handledPromote) {
      next = { ...next, handledPromote: promote };
      if (next.phase === 'Progressing' || next.phase === 'Failed') {
        next = {
          ...next,
          phase: 'Promoting',
          message: `promoted by hand ('kedge promote') at ${describeStep(next, run.object.spec!.strategy!.canary!.steps)}`,
        };
        await this.event(run, 'Normal', 'Promoting', next.message!);
      }
    }
    return next;
  }

  /** Rolled back: no canary replica, all traffic on stable, until a newer revision (or `kedge promote`). */
  private async holdRolledBack(
    run: ReconcileRun<App>,
    desired: DesiredApp,
    hooks: CanaryHooks,
    canary: CanaryStatus,
  ): Promise<never> {
    const seen = await hooks.converge({ ...desired, canary: { replicas: 0, weight: 0 } });
    hooks.record(seen, desired);
    run.status.updateRevision = canary.canaryRevision;
    const message = canary.message ?? 'canary failed';
    run.conditions.mark(Conditions.Progressing, 'False', Reasons.CanaryFailed, message);
    throw new StallingError(Reasons.CanaryFailed, message);
  }

  private async progress(
    run: ReconcileRun<App>,
    desired: DesiredApp,
    hooks: CanaryHooks,
    strategy: CanaryStrategy,
    start: CanaryStatus,
  ): Promise<'rolling'> {
    let canary = start;
    const replicas = strategy.canaryReplicas ?? 1;
    const placement = (weight: number) => ({ replicas, weight, routing: strategy.routing });
    let seen = await hooks.converge({ ...desired, canary: placement(canary.weight) });
    hooks.record(seen, desired);
    run.status.updateRevision = canary.canaryRevision;
    const canaryReady = seen.replicas.filter(
      (r) => r.templateHash === canary.templateHash && r.ready && r.state !== 'Terminating',
    ).length;
    const now = Date.now();
    if (canaryReady < replicas) {
      if (seen.deadlineExceeded) {
        run.status.canary = await this.fail(
          run,
          canary,
          `canary replicas of revision '${canary.canaryRevision}' not ready within the progress deadline of ${desired.progressDeadlineMs / 1000}s`,
        );
        return this.holdRolledBack(run, desired, hooks, run.status.canary);
      }
      // The step's clock starts once the canary serves.
      run.status.canary = {
        ...canary,
        stepStartedAt: new Date(now).toISOString(),
        lastAnalysisAt: undefined,
      };
      const message = `canary of revision '${canary.canaryRevision}': ${canaryReady}/${replicas} canary replicas ready`;
      run.conditions.mark(Conditions.Progressing, 'True', Reasons.CanaryProgressing, message);
      throw new WaitingError(
        Reasons.CanaryProgressing,
        message,
        Math.min(30_000, Math.max(500, seen.deadlineInMs + 50)),
      );
    }
    const intervalMs = parseDuration(strategy.analysis?.interval ?? '30s');
    if (analysisDueInMs(canary, intervalMs, now) <= 0) {
      const windows = await this.deps.runtime.trafficStats(run.ref, true);
      const window = windows.find((w) => w.revision === canary.canaryRevision);
      // With traffic sent to it, a window without a canary answer measured nothing: the step waits.
      const proxyChecks =
        strategy.analysis?.successRate !== undefined || strategy.analysis?.latency !== undefined;
      const measured = canary.weight === 0 || !proxyChecks || (window?.requests ?? 0) > 0;
      const results = await analyseCanary(strategy.analysis, window, {
        name: run.ref.name,
        namespace: run.ref.namespace,
        phase: 'Progressing',
        canaryRevision: canary.canaryRevision,
        stableRevision: canary.stableRevision,
        weight: canary.weight,
      });
      canary = {
        ...canary,
        lastAnalysis: results,
        lastAnalysisAt: new Date(now).toISOString(),
        traffic: traffic(await this.deps.runtime.trafficStats(run.ref, false)),
      };
      const failed = results.filter((r) => !r.passed);
      if (failed.length > 0) {
        const failedChecks = canary.failedChecks + 1;
        const limit = strategy.analysis?.failureLimit ?? 2;
        const what = failed.map((r) => `${r.check}: ${r.value}`).join('; ');
        canary = { ...canary, failedChecks, message: `analysis failed (${failedChecks}/${limit}): ${what}` };
        if (failedChecks >= limit) {
          run.status.canary = await this.fail(
            run,
            canary,
            `canary of revision '${canary.canaryRevision}' rolled back after ${failedChecks} failed checks (failureLimit ${limit}): ${what}`,
          );
          return this.holdRolledBack(run, desired, hooks, run.status.canary);
        }
      } else if (!measured) {
        canary = {
          ...canary,
          message: `no answer of the canary in the last ${formatDuration(intervalMs)}: the step waits for traffic`,
        };
      } else {
        const before = canary.weight;
        canary = { ...advance(canary, strategy.steps, now), message: undefined };
        if (canary.phase === 'Promoting') {
          run.status.canary = {
            ...canary,
            message: `every step passed: promoting revision '${canary.canaryRevision}'`,
          };
          await this.event(run, 'Normal', 'Promoting', run.status.canary.message!);
          return 'rolling';
        }
        if (canary.weight !== before) {
          seen = await hooks.converge({ ...desired, canary: placement(canary.weight) });
          hooks.record(seen, desired);
          await this.event(
            run,
            'Normal',
            'Progressing',
            `advance canary of revision '${canary.canaryRevision}' to weight ${canary.weight}%`,
          );
        }
      }
    }
    run.status.canary = canary;
    const waits = [
      analysisDueInMs(canary, intervalMs, Date.now()),
      pauseEndsInMs(canary, strategy.steps, Date.now()) ?? Infinity,
    ];
    const message = `canary of revision '${canary.canaryRevision}' at ${describeStep(canary, strategy.steps)}${canary.message ? `: ${canary.message}` : ''}`;
    run.conditions.mark(Conditions.Progressing, 'True', Reasons.CanaryProgressing, message);
    throw new WaitingError(Reasons.CanaryProgressing, message, Math.max(50, Math.min(...waits) + 10));
  }

  private async fail(run: ReconcileRun<App>, canary: CanaryStatus, message: string): Promise<CanaryStatus> {
    await this.event(run, 'Warning', Reasons.CanaryFailed, message);
    return { ...canary, phase: 'Failed', weight: 0, message };
  }

  private async event(
    run: ReconcileRun<App>,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
  ): Promise<void> {
    await this.deps.events.record(run.object, type, reason, message, {
      controller: CONTROLLER,
      annotations: {
        [REVISION_ANNOTATION]: run.status.canary?.canaryRevision ?? run.status.updateRevision ?? '',
      },
    });
  }
}

/** Status's view of the proxy's per-revision counts. */
export function traffic(counts: readonly RevisionCounts[]): RevisionTraffic[] {
  return counts.map((c) => ({
    revision: c.revision,
    requests: c.requests,
    successRate: c.requests === 0 ? 100 : Math.round((10_000 * (c.requests - c.errors)) / c.requests) / 100,
    p99Ms: LatencyHistogram.quantileMs(c.latency, 0.99),
  }));
}
