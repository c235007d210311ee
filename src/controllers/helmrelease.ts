import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Conditions, Reasons } from '../api/conditions.ts';
import { formatDuration, parseDuration } from '../api/duration.ts';
import {
  DEFAULT_HELM_TIMEOUT,
  ForceRequestAnnotation,
  HelmConditions,
  HelmReasons,
  HelmReleaseFinalizer,
  HelmReleaseKind,
  ResetRequestAnnotation,
  releaseNameOf,
  type HelmRelease,
  type HelmReleaseSpec,
} from '../api/helmrelease.ts';
import { allKinds } from '../api/kinds.ts';
import type { ObjectRef } from '../api/meta.ts';
import type { KubeTarget } from '../apply/kube-client.ts';
import { commonMetadataDigest, postRenderersDigest, writePostRendererPlugin } from '../helm/post-renderer.ts';
import { type ReleaseTarget } from '../helm/release-actions.ts';
import { lastRelease } from '../helm/release-record.ts';
import { composeValues, configDigest } from '../helm/release-values.ts';
import { locateRenderer } from '../kustomize/renderer-binary.ts';
import { ReconcileError, StallingError, WaitingError, errorMessage } from '../runtime/errors.ts';
import type { EventRecorder } from '../runtime/event-recorder.ts';
import { ReconcileRun } from '../runtime/reconcile-run.ts';
import type { ReconcileContext, ReconcileResult, Reconciler, RelatedWatch } from '../runtime/reconciler.ts';
import type { ReadySummary } from '../runtime/summarize.ts';
import type { Store, WatchEvent } from '../store/store.ts';
import type { StoreKubeConfigOptions } from '../store/kubernetes/store-kubeconfig.ts';
import {
  HelmChartKind,
  OCIRepositoryKind,
  chartArtifact,
  chartFile,
  chartMetadata,
  chartSourceRef,
  reconcileChartTemplate,
  usesSource,
} from './helmrelease/chart-source.ts';
import { unreadyDependency } from './helmrelease/dependencies.ts';
import { ReleaseActions, type ActionContext } from './helmrelease/release-action-steps.ts';
import { releaseCluster } from './helmrelease/release-cluster.ts';
import {
  releaseState,
  truncateHistory,
  activeRemediation,
  type DesiredRelease,
} from './helmrelease/release-state.ts';

const CONTROLLER = 'helm-controller';
const REQUEUE_DEPENDENCY = '30s';
/** Event metadata helm-controller attaches: the chart version released. */
const RevisionAnnotation = 'helm.toolkit.fluxcd.io/revision';

/** Everything one reconcile of one HelmRelease works on. */
export class HelmReleaseRun extends ReconcileRun<HelmRelease> {
  readonly started = Date.now();
  /** The chart version being released, for event annotations. */
  revision?: string;
  constructor(
    store: Store,
    ref: ObjectRef,
    object: HelmRelease,
    readonly context: ReconcileContext,
  ) {
    super(store, ref, object);
  }
}

export interface HelmReleaseReconcilerDeps {
  store: Store;
  events: EventRecorder;
  /** `<dataDir>/artifacts`: chart artifacts found there are read from disk instead of downloaded. */
  artifactRoot?: string;
  /** The engine's own cluster (`--kubeconfig`, `--context`; in operator mode the in-cluster config too). */
  cluster?: StoreKubeConfigOptions;
  requeueDependency?: string;
  scratchDir?: string;
}

/**
 * Reconciles `helm.toolkit.fluxcd.io/v2` HelmRelease as Flux's helm-controller does, with the `helm` binary
 * doing every release action: wait for `dependsOn`, create the HelmChart of a `chart` template (or follow
 * `chartRef`), load the chart artifact, compose the values, then run helm-controller's atomic release — look at
 * the release in Helm's storage, pick the action its state calls for (install, upgrade, test, rollback or
 * uninstall remediation), run it, look again — until the release is in sync, a remediation ran, or retries
 * are exhausted. Ready is summarized from Released, TestSuccess and Remediated.
 */
export class HelmReleaseReconciler implements Reconciler {
  readonly kind = HelmReleaseKind;
  readonly controllerName = CONTROLLER;
  readonly watches: RelatedWatch[];
  readonly #targets = new Map<string, KubeTarget>();
  readonly #requeueDependency: string;

  constructor(private readonly deps: HelmReleaseReconcilerDeps) {
    this.#requeueDependency = deps.requeueDependency ?? REQUEUE_DEPENDENCY;
    const known = new Set(allKinds().map((k) => k.kind));
    this.watches = [
      ...[HelmChartKind, OCIRepositoryKind]
        .filter((kind) => known.has(kind))
        .map((kind) => ({ kind, map: (event: WatchEvent) => this.#usersOf(event) })),
      { kind: HelmReleaseKind, map: (event) => this.#dependentsOf(event) },
    ];
  }

  async reconcile(ref: ObjectRef, context: ReconcileContext): Promise<ReconcileResult> {
    let object = (await this.deps.store.get(ref)) as HelmRelease | undefined;
    if (!object) return {};
    if (object.metadata.deletionTimestamp) return this.#finalize(object, context);
    if (!object.metadata.finalizers?.includes(HelmReleaseFinalizer)) {
      object.metadata.finalizers = [...(object.metadata.finalizers ?? []), HelmReleaseFinalizer];
      object = (await this.deps.store.update(object)) as HelmRelease;
    }
    const spec = object.spec!;
    const run = new HelmReleaseRun(this.deps.store, ref, object, context);
    await run.markProgressing();

    let outcome: ReconcileError | undefined;
    try {
      await this.reconcileDependencies(run);
      await this.reconcileRelease(run);
    } catch (error) {
      outcome = toReconcileError(error);
    }
    const summary = readySummary(spec);
    const first = summary.positive.map((t) => run.conditions.get(t)).find((c) => c?.status === 'True');
    await run.finish(summary, outcome, {
      success: first ? { reason: first.reason, message: first.message } : undefined,
    });
    await this.#recordResult(run, outcome);
    if (outcome) throw outcome;
    return { requeueAfterMs: parseDuration(spec.interval) };
  }

  /** Wait until every `dependsOn` HelmRelease is Ready at its latest generation. */
  private async reconcileDependencies(run: HelmReleaseRun): Promise<void> {
    const why = await unreadyDependency(this.deps.store, run.object);
    if (why)
      throw new WaitingError(
        Reasons.DependencyNotReady,
        `dependencies do not meet ready condition (${why}): retrying in ${this.#requeueDependency}`,
        parseDuration(this.#requeueDependency),
      );
  }

  /** Load chart and values, then run the atomic release in a scratch dir removed afterwards. */
  private async reconcileRelease(run: HelmReleaseRun): Promise<void> {
    const { store } = this.deps;
    const hr = run.object;
    const spec = hr.spec!;
    const namespace = run.ref.namespace;
    const retryMs = parseDuration(this.#requeueDependency);
    const sourceRef = spec.chart ? await reconcileChartTemplate(store, hr) : chartSourceRef(hr);
    if (sourceRef.kind === HelmChartKind) run.status.helmChart = `${sourceRef.namespace}/${sourceRef.name}`;
    else delete run.status.helmChart;
    const artifact = await chartArtifact(store, sourceRef, retryMs);

    const targetNamespace = spec.targetNamespace ?? namespace;
    if (spec.storageNamespace && spec.storageNamespace !== targetNamespace)
      throw new StallingError(
        HelmReasons.InitFailed,
        `storageNamespace '${spec.storageNamespace}' differs from the target namespace '${targetNamespace}': ` +
          'Kedge runs the helm CLI, which stores a release in the namespace it installs to; remove storageNamespace or set it to the target namespace',
      );
    const workDir = await mkdtemp(path.join(this.deps.scratchDir ?? tmpdir(), 'helm-'));
    try {
      const cluster = await releaseCluster(store, hr, this.deps.cluster, workDir, this.#targets);
      const file = await chartFile(artifact, this.deps.artifactRoot, workDir, run.context.signal);
      const chart = await chartMetadata(file, artifact.digest, cluster.connection);
      run.revision = chart.version;
      const values = await composeValues(store, namespace, spec);
      const desired: DesiredRelease = {
        chartName: chart.name,
        chartVersion: chart.version,
        values,
        newGeneration: run.status.observedGeneration !== hr.metadata.generation,
        postRenderersDigest: postRenderersDigest(spec),
        commonMetadataDigest: commonMetadataDigest(spec),
      };
      recordAttempt(run, desired, artifact.revision);
      run.status.storageNamespace = targetNamespace;
      await writePostRendererPlugin(cluster.connection.plugins!, await locateRenderer(), {
        owner: { name: hr.metadata.name, namespace },
        postRenderers: spec.postRenderers,
        commonMetadata: spec.commonMetadata,
      });
      const release: ReleaseTarget = {
        name: releaseNameOf(hr),
        namespace: targetNamespace,
        connection: cluster.connection,
        workDir,
        signal: run.context.signal,
      };
      const ctx: ActionContext = {
        run,
        spec,
        release,
        rest: cluster.target.rest,
        target: cluster.target,
        input: { chart: file, values, postRender: true },
        desired,
        record: (type, reason, message) => this.#event(run, type, reason, message),
      };
      await this.#atomicRelease(ctx);
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  }

  /**
   * helm-controller's atomic release: determine the release state, run the action it calls for, repeat. Each
   * kind of action runs at most once per reconcile and a remediation ends it; then a retry is scheduled, or,
   * retries exhausted, the object stalls.
   */
  async #atomicRelease(ctx: ActionContext): Promise<void> {
    const { run, spec, release } = ctx;
    const actions = new ReleaseActions(ctx);
    const ran = new Set<string>();
    const force = forceRequested(run);
    for (;;) {
      const latest = await lastRelease(ctx.rest, release.namespace, release.name).catch((error: unknown) => {
        throw new ReconcileError(
          HelmReasons.StateError,
          `could not determine release state: ${errorMessage(error)}`,
        );
      });
      const state = releaseState(latest, spec, run.status, ctx.desired);
      run.context.log.debug({ state: state.status, reason: state.reason }, 'release state');
      if (state.status === 'Unmanaged') run.status.history = [];
      const next = actions.forState(state, latest, force && !ran.has('release'));
      if (!next) {
        if (force) run.status.lastHandledForceAt = run.object.metadata.annotations?.[ForceRequestAnnotation];
        actions.markInSync();
        if (state.status === 'InSync' && latest) await actions.checkDrift(latest);
        return;
      }
      if (ran.has(next.type)) return actions.stopBefore();
      const timeout = formatDuration(parseDuration(next.timeout ?? spec.timeout ?? DEFAULT_HELM_TIMEOUT));
      const message = `Running '${next.name}' action with timeout of ${timeout}`;
      run.markProgressingAs(message, next.type === 'release');
      await run.patch();
      await next.run();
      ran.add(next.type);
      if (next.type === 'release' && force)
        run.status.lastHandledForceAt = run.object.metadata.annotations?.[ForceRequestAnnotation];
      if (next.type === 'remediate') return actions.stopAfterRemediation();
    }
  }

  /** Uninstall the release (unless suspended), delete the HelmChart of a chart template, drop the finalizer. */
  async #finalize(hr: HelmRelease, context: ReconcileContext): Promise<ReconcileResult> {
    const spec = hr.spec!;
    const namespace = hr.metadata.namespace ?? 'default';
    if (!spec.suspend && (hr.status?.history?.length ?? 0) > 0) {
      const workDir = await mkdtemp(path.join(this.deps.scratchDir ?? tmpdir(), 'helm-'));
      try {
        const cluster = await releaseCluster(this.deps.store, hr, this.deps.cluster, workDir, this.#targets);
        const release: ReleaseTarget = {
          name: releaseNameOf(hr),
          namespace: hr.status?.storageNamespace ?? spec.targetNamespace ?? namespace,
          connection: cluster.connection,
          workDir,
          signal: context.signal,
        };
        const { uninstallRelease } = await import('../helm/release-actions.ts');
        await uninstallRelease(spec, release).catch((error: unknown) => {
          throw new ReconcileError(
            HelmReasons.UninstallFailed,
            `Helm uninstall failed for release ${namespace}/${release.name}: ${errorMessage(error)}`,
          );
        });
      } finally {
        await rm(workDir, { recursive: true, force: true });
      }
    }
    if (spec.chart) await this.deps.store.delete(chartSourceRef(hr)).catch(() => false);
    const latest = await this.deps.store.get({ kind: HelmReleaseKind, namespace, name: hr.metadata.name });
    if (latest) {
      latest.metadata.finalizers = (latest.metadata.finalizers ?? []).filter(
        (f) => f !== HelmReleaseFinalizer,
      );
      await this.deps.store.update(latest);
    }
    return {};
  }

  /** HelmReleases whose chart source changed its artifact. */
  async #usersOf(event: WatchEvent): Promise<ObjectRef[]> {
    if (event.type === 'DELETED') return [];
    const source = event.object;
    const ref = {
      kind: source.kind,
      namespace: source.metadata.namespace ?? 'default',
      name: source.metadata.name,
    };
    const revision = (source.status as { artifact?: { revision?: string } } | undefined)?.artifact?.revision;
    if (!revision) return [];
    const all = (await this.deps.store.list(HelmReleaseKind)) as HelmRelease[];
    return all
      .filter((hr) => hr.spec && usesSource(hr, ref))
      .map((hr) => ({
        kind: HelmReleaseKind,
        namespace: hr.metadata.namespace ?? 'default',
        name: hr.metadata.name,
      }));
  }

  /** A HelmRelease became ready: reconcile those waiting on it. */
  async #dependentsOf(event: WatchEvent): Promise<ObjectRef[]> {
    if (event.type === 'DELETED') return [];
    const dep = event.object as HelmRelease;
    const ready = dep.status?.conditions?.find((c) => c.type === Conditions.Ready)?.status === 'True';
    if (!ready) return [];
    const key = `${dep.metadata.namespace ?? 'default'}/${dep.metadata.name}`;
    const all = (await this.deps.store.list(HelmReleaseKind)) as HelmRelease[];
    return all
      .filter((hr) => {
        const ns = hr.metadata.namespace ?? 'default';
        const waiting =
          hr.status?.conditions?.find((c) => c.type === Conditions.Ready)?.reason ===
          Reasons.DependencyNotReady;
        return waiting && (hr.spec?.dependsOn ?? []).some((d) => `${d.namespace ?? ns}/${d.name}` === key);
      })
      .map((hr) => ({
        kind: HelmReleaseKind,
        namespace: hr.metadata.namespace ?? 'default',
        name: hr.metadata.name,
      }));
  }

  async #event(
    run: HelmReleaseRun,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
  ): Promise<void> {
    await this.deps.events.record(run.object, type, reason, message, {
      controller: CONTROLLER,
      annotations: run.revision ? { [RevisionAnnotation]: run.revision } : undefined,
    });
  }

  /** A warning for failures other than waiting on dependencies (release actions record their own events). */
  async #recordResult(run: HelmReleaseRun, outcome: unknown): Promise<void> {
    if (outcome === undefined) return;
    const ready = run.conditions.get(Conditions.Ready)!;
    if (ready.reason === Reasons.DependencyNotReady || ACTION_REASONS.has(ready.reason)) return;
    await this.#event(run, 'Warning', ready.reason, ready.message);
  }

  /** Closes cluster connections. */
  close(): void {
    for (const target of this.#targets.values()) target.close();
    this.#targets.clear();
  }
}

/** Reasons whose events the release actions already recorded. */
const ACTION_REASONS = new Set<string>([
  HelmReasons.InstallFailed,
  HelmReasons.UpgradeFailed,
  HelmReasons.TestFailed,
  HelmReasons.RollbackFailed,
  HelmReasons.RollbackSucceeded,
  HelmReasons.UninstallFailed,
  HelmReasons.UninstallSucceeded,
]);

/** Ready from Remediated (trouble when True), then TestSuccess (when tests count) and Released. */
function readySummary(spec: HelmReleaseSpec): ReadySummary {
  const testsCount = spec.test?.enable === true && spec.test.ignoreFailures !== true;
  return {
    negative: [HelmConditions.Remediated],
    positive: testsCount ? [HelmConditions.TestSuccess, HelmConditions.Released] : [HelmConditions.Released],
  };
}

/** Reset failure counters when chart, values or generation changed (or on a reset request); note the attempt. */
function recordAttempt(run: HelmReleaseRun, desired: DesiredRelease, revision: string): void {
  const status = run.status;
  const digest = configDigest(desired.values);
  const resetAt = run.object.metadata.annotations?.[ResetRequestAnnotation];
  const resetRequested =
    resetAt !== undefined && resetAt === run.requestedAt && resetAt !== status.lastHandledResetAt;
  if (
    resetRequested ||
    status.lastAttemptedGeneration !== run.object.metadata.generation ||
    status.lastAttemptedRevision !== desired.chartVersion ||
    status.lastAttemptedConfigDigest !== digest
  ) {
    delete status.failures;
    delete status.installFailures;
    delete status.upgradeFailures;
  }
  if (resetRequested) status.lastHandledResetAt = resetAt;
  status.lastAttemptedGeneration = run.object.metadata.generation;
  status.lastAttemptedRevision = desired.chartVersion;
  if (revision.includes('@sha256:'))
    status.lastAttemptedRevisionDigest = revision.slice(revision.indexOf('@') + 1);
  status.lastAttemptedConfigDigest = digest;
  // History beyond the previous successful release is not needed to roll back.
  const remediation = activeRemediation(run.object.spec!, status);
  if (status.history)
    status.history = truncateHistory(
      status.history,
      remediation?.ignoreTestFailures(run.object.spec!) ?? false,
    );
}

/** `flux reconcile hr --force`: the force token equals the request token and was not handled yet. */
function forceRequested(run: HelmReleaseRun): boolean {
  const forceAt = run.object.metadata.annotations?.[ForceRequestAnnotation];
  return forceAt !== undefined && forceAt === run.requestedAt && forceAt !== run.status.lastHandledForceAt;
}

const KNOWN_REASONS = new Set<string>(Object.values(HelmReasons));

function toReconcileError(error: unknown): ReconcileError {
  if (error instanceof ReconcileError) return error;
  const reason = (error as { reason?: unknown } | undefined)?.reason;
  const known =
    typeof reason === 'string' && KNOWN_REASONS.has(reason) ? reason : Reasons.ReconciliationFailed;
  return new ReconcileError(known, errorMessage(error), { cause: error });
}
