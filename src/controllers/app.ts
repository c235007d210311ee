import { AppKind, SourceArtifactAnnotation, SourceRevisionAnnotation, type App, type AppSpec } from '../api/app.ts';
import { Conditions, ReconcileRequestAnnotation, Reasons } from '../api/conditions.ts';
import { secretValues } from '../api/core.ts';
import type { KObject, ObjectRef } from '../api/meta.ts';
import { ExposePortError } from '../host/expose-proxy.ts';
import { CanaryReleases } from './app-canary.ts';
import type { AppObservation, DesiredApp, HostRuntime, ReplicaSnapshot } from '../host/host-runtime.ts';
import { planMemoryLimit } from '../host/memory-limit.ts';
import type { PreparationProgress } from '../host/release-preparation.ts';
import { ReleaseError } from '../host/release-store.ts';
import type { ReplicaTemplate } from '../host/replica-template.ts';
import { resolveIntOrPercent } from '../host/rollout-plan.ts';
import { ReconcileError, StallingError, WaitingError, errorMessage } from '../runtime/errors.ts';
import type { EventRecorder } from '../runtime/event-recorder.ts';
import type { ReconcileContext, ReconcileResult, Reconciler, RelatedWatch } from '../runtime/reconciler.ts';
import { ReconcileRun } from '../runtime/reconcile-run.ts';
import type { Store } from '../store/store.ts';
import { DEFAULT_HISTORY_LIMIT, rollbackHoldOf, RolledBackCondition, type RollbackHold } from '../api/history.ts';
import { appHistoryEntryOf } from '../history/app-history-entry.ts';
import { recordHistory } from '../history/record-history.ts';
import type { Release } from '../host/release-store.ts';
import { markHold, recordHoldEvents } from './rollback-hold.ts';

const CONTROLLER = 'kedge-host-runtime';
const REVISION_ANNOTATION = 'kedge.dev/revision';

/** Conditions this reconciler owns: Ready is True when the rollout completed and the App is available. */
const READY_SUMMARY = { negative: [], positive: [Conditions.Progressing, Conditions.Available] } as const;

/** Variables a replica inherits from the engine; nothing else of the engine's environment reaches an App. */
const INHERITED_ENV = ['PATH', 'HOME', 'USER', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'SHELL'];

export interface AppReconcilerDeps {
  store: Store;
  runtime: HostRuntime;
  events: EventRecorder;
  /** Queues a reconcile now: the runtime calls it on every process event (exit, readiness change). */
  enqueue: (ref: ObjectRef) => void;
  /** History entries kept per App (`--history-limit`). Default 100. */
  historyLimit?: number;
}

/** Releases of the newest history entries kept on disk besides those in use, so a rollback needs no new setup. */
const RETAINED_RELEASES = 5;

/** Everything one reconcile of one App works on. */
class Run extends ReconcileRun<App> {
  /** A rollback hold: its release is rolled out instead of the one the annotations name. */
  readonly hold: RollbackHold | undefined = rollbackHoldOf(this.object.metadata.annotations);
  readonly rolledBackBefore = structuredClone(this.conditions.get(RolledBackCondition));
  release?: Release;
  artifactPath?: string;

  constructor(
    store: Store,
    ref: ObjectRef,
    object: App,
    readonly context: ReconcileContext,
  ) {
    super(store, ref, object);
  }
}

/** While a release is being prepared, status is refreshed at least this often (the elapsed time in its message). */
const PREPARATION_STATUS_PERIOD_MS = 10_000;

/**
 * Reconciles `kedge.dev/v1alpha1` App on the host runtime: resolves its environment, has the runtime prepare
 * the release of the source revision the App came from (annotations `kedge.dev/source-artifact` and
 * `kedge.dev/source-revision`) in the background, and once it is ready takes one rolling-update step. No
 * reconcile waits for a setup or for replicas: it reports where they stand and requeues, and the end of a
 * setup and every process event requeue it at once. Status is shaped like a Deployment's (replicas,
 * readyReplicas, updatedReplicas, availableReplicas, Available, Progressing) and always shows the replicas
 * as they are now, also while a setup runs.
 */
export class AppReconciler implements Reconciler {
  readonly kind = AppKind;
  readonly controllerName = CONTROLLER;
  readonly watches: RelatedWatch[];
  private readonly canaries: CanaryReleases;

  constructor(private readonly deps: AppReconcilerDeps) {
    this.canaries = new CanaryReleases({ runtime: deps.runtime, events: deps.events });
    // Apps whose environment comes from a changed Secret or ConfigMap roll.
    this.watches = (['Secret', 'ConfigMap'] as const).map((kind) => ({
      kind,
      map: async ({ object }: { object: KObject }) => {
        const apps = (await deps.store.list(AppKind, { namespace: object.metadata.namespace ?? 'default' })) as App[];
        return apps
          .filter((app) => referencedNames(app.spec, kind).has(object.metadata.name))
          .map((app) => ({ kind: AppKind, namespace: app.metadata.namespace ?? 'default', name: app.metadata.name }));
      },
    }));
    deps.runtime.onChange((ref, event) => {
      deps.enqueue(ref);
      if (event) void this.recordProcessEvent(ref, event);
    });
  }

  async reconcile(ref: ObjectRef, context: ReconcileContext): Promise<ReconcileResult> {
    const object = (await this.deps.store.get(ref)) as App | undefined;
    // Deleted: its processes stop, its releases and logs go.
    if (!object) {
      await this.deps.runtime.remove(ref);
      await this.deps.runtime.releases.removeAll(ref.namespace, ref.name);
      await this.deps.runtime.removeLogs(ref);
      return {};
    }
    const run = new Run(this.deps.store, ref, object, context);
    await this.markProgressing(run);
    let outcome: unknown;
    try {
      const desired = await this.reconcileRelease(run);
      const converge = (wanted: DesiredApp) =>
        this.deps.runtime.converge(ref, wanted).catch((error: unknown) => {
          if (!(error instanceof ExposePortError)) throw error;
          run.conditions.mark(Conditions.Available, 'False', error.reason, error.message);
          throw new ReconcileError(error.reason, error.message, { cause: error });
        });
      // A canary (spec.strategy.canary) runs its steps and analysis here, or hands over to the rolling update.
      await this.canaries.reconcile(run, desired, { converge, record: (seen, wanted) => this.recordReplicas(run, seen, wanted) });
      await this.reconcileReplicas(run, desired, await converge(desired));
      await this.canaries.promoted(run, desired);
    } catch (error) {
      outcome = error;
    }
    await this.summarizeAndPatch(run, outcome);
    if (outcome !== undefined) throw outcome instanceof Error ? outcome : new Error(errorMessage(outcome));
    return {};
  }

  /**
   * Tell watchers at once that a new generation or revision is being rolled out (Reconciling, Ready=Unknown),
   * before a possibly long setup: a health check must not take the previous revision's Ready for this one.
   */
  private async markProgressing(run: Run): Promise<void> {
    const revision = run.object.metadata.annotations?.[SourceRevisionAnnotation] ?? 'unknown';
    if (!run.newGeneration && revision === run.status.updateRevision) return;
    run.markProgressingAs(`rolling out revision '${revision}'`, true);
    run.status.updateRevision = revision;
    await run.patch();
  }

  /**
   * The desired state once the release of the App's revision is ready; until then reports the preparation
   * (running setup, failed, out of time) with the replicas as they are, and throws to requeue or stall.
   */
  private async reconcileRelease(run: Run): Promise<DesiredApp> {
    const spec = run.object.spec!;
    const annotations = run.object.metadata.annotations ?? {};
    // A rollback hold names an earlier release's artifact; a normal rolling update takes the App there.
    const artifact = run.hold?.artifact.path ?? annotations[SourceArtifactAnnotation];
    const revision = run.hold?.revision ?? annotations[SourceRevisionAnnotation] ?? 'unknown';
    run.artifactPath = artifact;
    if (!artifact) {
      throw new StallingError(
        Reasons.ArtifactFailed,
        `App has no '${SourceArtifactAnnotation}' annotation: apply it through a Kustomization so its files are known`,
      );
    }
    const env = await this.resolveEnv(run);
    const replicas = spec.replicas ?? 1;
    const maxUnavailable = resolveIntOrPercent(spec.strategy?.maxUnavailable, replicas, '25%', false);
    const progressDeadlineMs = (spec.progressDeadlineSeconds ?? 600) * 1000;
    const releases = this.deps.runtime.releases;
    try {
      const progress = await this.deps.runtime.prepareRelease(run.ref, {
        namespace: run.ref.namespace,
        name: run.ref.name,
        artifact,
        revision,
        workingDir: spec.workingDir,
        setup: spec.setup,
        env,
        deadlineMs: progressDeadlineMs,
        token: `${run.object.metadata.generation ?? 0}/${annotations[ReconcileRequestAnnotation] ?? ''}`,
      });
      if (progress.phase !== 'Ready') this.reportPreparation(run, progress, { replicas, maxUnavailable, progressDeadlineMs });
      const release = progress.release;
      run.release = release;
      const memory = planMemoryLimit(spec.command, spec.resources?.limits?.memory, env.PATH);
      run.status.memoryLimit = memory.description;
      const template: ReplicaTemplate = {
        revision,
        releaseKey: release.key,
        cwd: await releases.workingDir(release, spec.workingDir),
        argv: memory.argv,
        env,
        portNames: (spec.ports ?? []).map((p) => p.name),
        readinessProbe: spec.readinessProbe,
        livenessProbe: spec.livenessProbe,
        terminationGraceMs: (spec.terminationGracePeriodSeconds ?? 30) * 1000,
      };
      return {
        template,
        replicas,
        maxSurge: resolveIntOrPercent(spec.strategy?.maxSurge, replicas, '25%', true),
        maxUnavailable,
        exposePort: spec.expose?.port,
        exposeProtocol: spec.expose?.protocol,
        progressDeadlineMs,
      };
    } catch (error) {
      if (!(error instanceof ReleaseError)) throw error;
      run.conditions.mark(Conditions.Progressing, 'False', error.reason, error.message);
      throw new ReconcileError(error.reason, error.message, { cause: error });
    }
  }

  /**
   * Status while the release is not ready: the replicas as they are now (the previous revision's keep serving)
   * and Progressing saying what the preparation does; then throws: wait (running), stall (out of time, or
   * failed past the deadline) or retry with backoff (failed).
   */
  private reportPreparation(
    run: Run,
    progress: Exclude<PreparationProgress, { phase: 'Ready' }>,
    desired: { replicas: number; maxUnavailable: number; progressDeadlineMs: number },
  ): never {
    const seen = this.deps.runtime.snapshot(run.ref);
    this.recordReplicas(run, seen, desired);
    run.status.updateRevision = progress.revision;
    const { conditions } = run;
    const revision = progress.revision;
    const deadline = `${desired.progressDeadlineMs / 1000}s`;
    const serving = seen.total > 0 ? '; the previous replicas keep serving' : '';
    if (progress.phase === 'Running') {
      const seconds = Math.floor(progress.elapsedMs / 1000);
      const attempt = progress.attempt > 1 ? `, attempt ${progress.attempt}` : '';
      const doing =
        progress.step === 'setup'
          ? `running setup for revision '${revision}' (pid ${progress.pid ?? '?'}, ${seconds}s${attempt})`
          : `extracting revision '${revision}' (${seconds}s${attempt})`;
      const message = `${doing}${seen.crashLooping > 0 ? `, ${seen.crashLooping} replicas in CrashLoopBackOff` : ''}`;
      conditions.mark(Conditions.Progressing, 'True', Reasons.ReplicaSetUpdated, message);
      // The end of the setup requeues at once; this only refreshes the elapsed time and notices the deadline.
      throw new WaitingError(Reasons.Progressing, message, Math.min(PREPARATION_STATUS_PERIOD_MS, Math.max(500, progress.remainingMs + 50)));
    }
    if (progress.phase === 'DeadlineExceeded') {
      const what = progress.step === 'setup' ? 'setup' : 'extraction';
      const message = `${what} of revision '${revision}' did not finish within the progress deadline of ${deadline} and was stopped${serving}`;
      conditions.mark(Conditions.Progressing, 'False', Reasons.ProgressDeadlineExceeded, message);
      throw new StallingError(Reasons.ProgressDeadlineExceeded, message);
    }
    const { error } = progress;
    if (progress.retryInMs === undefined) {
      const namespaceFlag = run.ref.namespace === 'default' ? '' : ` -n ${run.ref.namespace}`;
      const message = `${error.message}; not retried past the progress deadline of ${deadline}: change the App or run 'kedge reconcile app ${run.ref.name}${namespaceFlag}'${serving}`;
      conditions.mark(Conditions.Progressing, 'False', error.reason, message);
      throw new StallingError(error.reason, message, { cause: error });
    }
    conditions.mark(Conditions.Progressing, 'False', error.reason, error.message);
    throw new ReconcileError(error.reason, error.message, { cause: error });
  }

  /** Replica counts and Available, from the replicas ready now against the desired number. */
  private recordReplicas(run: Run, seen: ReplicaSnapshot, desired: { replicas: number; maxUnavailable: number }): void {
    const { status, conditions } = run;
    status.replicas = seen.total;
    status.readyReplicas = seen.ready;
    status.availableReplicas = seen.ready;
    status.unavailableReplicas = Math.max(0, desired.replicas - seen.ready);
    status.exposedAddress = seen.exposedAddress;
    status.replicaStatuses = seen.replicas;
    const minimum = Math.max(0, desired.replicas - desired.maxUnavailable);
    if (seen.ready >= minimum) {
      conditions.mark(Conditions.Available, 'True', Reasons.MinimumReplicasAvailable, `${seen.ready}/${desired.replicas} replicas ready`);
    } else {
      conditions.mark(Conditions.Available, 'False', Reasons.MinimumReplicasUnavailable, `${seen.ready}/${desired.replicas} replicas ready, ${minimum} needed`);
    }
  }

  /** Record what the processes look like; a rollout in progress waits, one past its deadline stalls. */
  private async reconcileReplicas(run: Run, desired: DesiredApp, seen: AppObservation): Promise<void> {
    const { status, conditions } = run;
    const revision = desired.template.revision;
    this.recordReplicas(run, seen, desired);
    status.updatedReplicas = seen.updated;
    status.updateRevision = revision;
    if (seen.actions.length > 0) {
      await this.deps.events.record(run.object, 'Normal', 'ScalingReplicaSet', seen.actions.join('; '), {
        controller: CONTROLLER,
        annotations: { [REVISION_ANNOTATION]: revision },
      });
    }
    if (seen.complete) {
      const rolledOut = status.currentRevision !== revision;
      if (rolledOut) await this.prune(run, desired);
      status.currentRevision = revision;
      if (rolledOut) await this.recordRollout(run, revision, 'Succeeded', Reasons.NewReplicaSetAvailable, `rolled out revision '${revision}'`);
      conditions.mark(Conditions.Progressing, 'True', Reasons.NewReplicaSetAvailable, `rolled out revision '${revision}': ${seen.ready}/${desired.replicas} replicas ready`);
      return;
    }
    const progress = `rolling out revision '${revision}': ${seen.updatedReady}/${desired.replicas} updated replicas ready`;
    const crashing = seen.crashLooping > 0 ? `, ${seen.crashLooping} in CrashLoopBackOff` : '';
    if (seen.deadlineExceeded) {
      const message = `${progress}${crashing}; no progress for ${desired.progressDeadlineMs / 1000}s, the previous replicas keep serving`;
      conditions.mark(Conditions.Progressing, 'False', Reasons.ProgressDeadlineExceeded, message);
      throw new StallingError(Reasons.ProgressDeadlineExceeded, message);
    }
    conditions.mark(Conditions.Progressing, 'True', Reasons.ReplicaSetUpdated, `${progress}${crashing}`);
    const reason = seen.crashLooping > 0 ? Reasons.CrashLoopBackOff : Reasons.Progressing;
    // Process events requeue at once; the retry only makes sure the deadline is noticed.
    throw new WaitingError(reason, `${progress}${crashing}`, Math.min(30_000, Math.max(500, seen.deadlineInMs + 50)));
  }

  /** Drop releases no replica uses any more (the new one stays). */
  private async prune(run: Run, desired: DesiredApp): Promise<void> {
    const keep = this.deps.runtime.releasesInUse(run.ref);
    keep.add(desired.template.releaseKey);
    const recent = await this.deps.store.listHistory(run.ref, RETAINED_RELEASES).catch(() => []);
    for (const entry of recent) if (entry.releaseKey) keep.add(entry.releaseKey);
    await this.deps.runtime.releases
      .prune(run.ref.namespace, run.ref.name, keep)
      .catch((error: unknown) => run.context.log.warn({ err: error }, 'pruning old releases failed'));
  }

  /** A history entry for a rollout that ended on `revision`. */
  private async recordRollout(run: Run, revision: string, result: 'Succeeded' | 'Failed', reason: string, message: string): Promise<void> {
    if (!run.release || !run.artifactPath) return;
    const entry = appHistoryEntryOf({
      ref: run.ref,
      revision,
      artifactPath: run.artifactPath,
      release: run.release,
      reconciling: run.conditions.get(Conditions.Reconciling),
      result,
      reason,
      message,
      rolledBack: run.hold !== undefined,
    });
    await recordHistory(this.deps.store, run.ref, entry, this.deps.historyLimit ?? DEFAULT_HISTORY_LIMIT).catch((error: unknown) =>
      run.context.log.warn({ err: error }, 'recording history failed'),
    );
  }

  /** The replica environment: inherited basics, then envFrom, then env (later wins, as in Kubernetes). */
  private async resolveEnv(run: Run): Promise<Record<string, string>> {
    const spec = run.object.spec!;
    const env: Record<string, string> = {};
    for (const name of INHERITED_ENV) if (process.env[name] !== undefined) env[name] = process.env[name];
    Object.assign(env, { KEDGE_APP: run.ref.name, KEDGE_NAMESPACE: run.ref.namespace });
    for (const source of spec.envFrom ?? []) {
      const ref = source.secretRef ?? source.configMapRef!;
      const values = await this.values(run, source.secretRef ? 'Secret' : 'ConfigMap', ref.name, ref.optional === true, 'envFrom');
      for (const [k, v] of Object.entries(values ?? {})) env[`${source.prefix ?? ''}${k}`] = v;
    }
    for (const variable of spec.env ?? []) {
      if (!variable.valueFrom) {
        env[variable.name] = variable.value ?? '';
        continue;
      }
      const keyRef = variable.valueFrom.secretKeyRef ?? variable.valueFrom.configMapKeyRef!;
      const kind = variable.valueFrom.secretKeyRef ? 'Secret' : 'ConfigMap';
      const values = await this.values(run, kind, keyRef.name, keyRef.optional === true, `env ${variable.name}`);
      const value = values?.[keyRef.key];
      if (value !== undefined) env[variable.name] = value;
      else if (values && !keyRef.optional) {
        throw this.configError(run, `${kind} '${run.ref.namespace}/${keyRef.name}' has no key '${keyRef.key}' (env ${variable.name})`);
      }
    }
    return env;
  }

  private async values(run: Run, kind: 'Secret' | 'ConfigMap', name: string, optional: boolean, usedBy: string) {
    const object = await this.deps.store.get({ kind, namespace: run.ref.namespace, name });
    if (!object) {
      if (optional) return undefined;
      throw this.configError(run, `${kind} '${run.ref.namespace}/${name}' not found (${usedBy})`);
    }
    return kind === 'Secret' ? secretValues(object) : ((object.data ?? {}) as Record<string, string>);
  }

  private configError(run: Run, message: string): ReconcileError {
    run.conditions.mark(Conditions.Progressing, 'False', Reasons.CreateContainerConfigError, message);
    return new ReconcileError(Reasons.CreateContainerConfigError, message);
  }

  /** Compute Ready from the owned conditions, write status once, and emit events on Ready transitions. */
  private async summarizeAndPatch(run: Run, outcome: unknown): Promise<void> {
    try {
      // A rollout waiting for replicas has seen this generation: kstatus reads the conditions for the rest.
      const observed = outcome === undefined || outcome instanceof WaitingError || outcome instanceof StallingError;
      const held = run.hold ? { hold: run.hold, sourceRevision: run.object.metadata.annotations?.[SourceRevisionAnnotation] ?? run.hold.sourceRevision } : undefined;
      const namespaceFlag = run.ref.namespace === 'default' ? '' : ` -n ${run.ref.namespace}`;
      markHold(run.conditions, held, `kedge rollback app ${run.ref.name}${namespaceFlag}`);
      await recordHoldEvents(this.deps.events, run.object, run.rolledBackBefore, { held }, CONTROLLER);
      await run.finish(READY_SUMMARY, outcome, { observed });
    } catch (error) {
      run.context.log.warn({ err: error }, `status update failed: ${errorMessage(error)}`);
      return;
    }
    const ready = run.conditions.get(Conditions.Ready)!;
    if (ready.status === run.readyBefore) return;
    const annotations = { [REVISION_ANNOTATION]: run.status.updateRevision ?? '' };
    if (ready.status === 'True') {
      await this.deps.events.record(run.object, 'Normal', Reasons.ReconciliationSucceeded, ready.message, { controller: CONTROLLER, annotations });
    } else if (outcome !== undefined && !(outcome instanceof WaitingError)) {
      await this.deps.events.record(run.object, 'Warning', ready.reason, ready.message, { controller: CONTROLLER, annotations });
    }
  }

  private async recordProcessEvent(ref: ObjectRef, event: { type: 'Normal' | 'Warning'; reason: string; message: string }): Promise<void> {
    const object = await this.deps.store.get(ref).catch(() => undefined);
    if (object) await this.deps.events.record(object, event.type, event.reason, event.message, { controller: CONTROLLER });
  }
}

/** Names of the Secrets or ConfigMaps an App's environment reads. */
function referencedNames(spec: AppSpec | undefined, kind: 'Secret' | 'ConfigMap'): Set<string> {
  const names = new Set<string>();
  for (const e of spec?.env ?? []) {
    const ref = kind === 'Secret' ? e.valueFrom?.secretKeyRef : e.valueFrom?.configMapKeyRef;
    if (ref) names.add(ref.name);
  }
  for (const e of spec?.envFrom ?? []) {
    const ref = kind === 'Secret' ? e.secretRef : e.configMapRef;
    if (ref) names.add(ref.name);
  }
  return names;
}
