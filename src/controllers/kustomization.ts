import { createHash } from 'node:crypto';
import { Conditions, Reasons } from '../api/conditions.ts';
import { parseDuration, formatDuration } from '../api/duration.ts';
import { BucketKind } from '../api/bucket.ts';
import { OCIRepositoryKind } from '../api/ocirepository.ts';
import { GitRepositoryKind, type ArtifactSource } from '../api/gitrepository.ts';
import {
  DEFAULT_DEPENDENCY_REQUEUE,
  KustomizationFinalizer,
  KustomizationKind,
  type InventoryEntry,
  type Kustomization,
} from '../api/kustomization.ts';
import { DEFAULT_HISTORY_LIMIT, RolledBackCondition } from '../api/history.ts';
import type { KObject, ObjectRef } from '../api/meta.ts';
import { refString } from '../api/meta.ts';
import type { KubeTarget } from '../apply/kube-client.ts';
import type { StoreKubeConfigOptions as KubeConfigSource } from '../store/kubernetes/store-kubeconfig.ts';
import { DriftWatch, type DriftEvent } from '../apply/drift-watch.ts';
import { objectId, type KubeObject, type ObjectIdentity } from '../apply/object-id.ts';
import { waitForHealthy } from '../apply/health.ts';
import { statusRuleFor, type StatusRule } from '../apply/health-check-exprs.ts';
import { deletesInventory } from '../apply/prune.ts';
import type { Owner } from '../apply/owner-labels.ts';
import { upsertFluxHistory } from '../history/flux-history.ts';
import { recordHistory } from '../history/record-history.ts';
import type { RenderCache } from '../kustomize/render-cache.ts';
import { renderKustomization } from '../kustomize/render.ts';
import { ReconcileError, StallingError, WaitingError, errorMessage } from '../runtime/errors.ts';
import type { EventRecorder } from '../runtime/event-recorder.ts';
import type { ReconcileContext, ReconcileResult, Reconciler, RelatedWatch } from '../runtime/reconciler.ts';
import { ReconcileRun } from '../runtime/reconcile-run.ts';
import { KeyLock } from '../runtime/key-lock.ts';
import { PriorityLane } from '../runtime/priority-lane.ts';
import type { Store, WatchEvent } from '../store/store.ts';
import type { ArtifactRef } from './kustomization/artifact-fetch.ts';
import { ArtifactTrees, type ArtifactLease } from './kustomization/artifact-trees.ts';
import { formatChangeSet, type ChangeEntry } from './kustomization/change-set.ts';
import {
  applyToCluster,
  identityOfEntry,
  pruneFromCluster,
  undoClusterDrift,
} from './kustomization/cluster-target.ts';
import { assertNoDependencyCycle, unreadyDependency } from './kustomization/dependencies.ts';
import { KustomizationIndex, sourceKeyOf } from './kustomization/kustomization-index.ts';
import { waitForStoreHealthy } from './kustomization/store-health.ts';
import { applyToStore, pruneFromStore, withAppOrigin } from './kustomization/store-target.ts';
import { renderOptionsOf } from './kustomization/render-options.ts';
import { historyEntryOf, snapshotDigest } from './kustomization/history-entry.ts';
import { heldArtifact, markHold, recordHoldEvents, resolveHold, type HeldRevision } from './rollback-hold.ts';
import { splitTargets, targetOf, type TargetConfig } from './kustomization/target-split.ts';

const CONTROLLER = 'kustomize-controller';
/**
 * Every this many reconciles of an unchanged set in a row, compare with a read and a server-side dry-run per
 * object instead of the drift watch's state: the backstop for a change a watch never delivered.
 */
export const FULL_COMPARE_EVERY = 24;
/** Drift undos running at once, beside (never behind) the reconcile workers. */
const DRIFT_UNDO_CONCURRENCY = 4;
const REVISION_ANNOTATION = 'kustomize.toolkit.fluxcd.io/revision';

/** Kustomization's owned conditions: Healthy (when waiting) bears on Ready. */
const READY_SUMMARY = { negative: [], positive: [Conditions.Healthy] } as const;

export interface KustomizationReconcilerDeps {
  store: Store;
  events: EventRecorder;
  /** `<dataDir>/artifacts`: artifacts found there are read from disk instead of downloaded. */
  artifactRoot?: string;
  /**
   * The engine's own cluster (`--kubeconfig`, `--context`; in operator mode also the in-cluster config): where
   * non-Kedge kinds go when `spec.kubeConfig` is not set. None: the store only.
   */
  cluster?: KubeConfigSource;
  /** Operator mode: the store is that cluster, so everything is applied to it (Flux's kinds as custom resources). */
  storeIsCluster?: boolean;
  /** How long to wait before re-checking unready `dependsOn` or a missing source (`--requeue-dependency`). Default 30s. */
  requeueDependency?: string;
  renderCache?: RenderCache;
  /** Scratch space for extracted artifacts and render copies (the engine's `<data-dir>/tmp`). Default: the OS temp dir. */
  scratchDir?: string;
  /** Queue a reconcile now (drift). */
  enqueue(ref: ObjectRef): void;
  /** History entries kept per Kustomization (`--history-limit`). Default 100. */
  historyLimit?: number;
}

/** The drift watch of a Kustomization's applied cluster set, and what undoing drift needs. */
interface DriftState {
  watch: DriftWatch;
  /** Hash of the applied manifests: a reconcile of another set stops the watch. */
  signature: string;
  ref: ObjectRef;
  target: KubeTarget;
  /** Applies that used the watched state since the last full compare. */
  inSyncApplies: number;
}

/** Everything one reconcile of one Kustomization works on. */
class Run extends ReconcileRun<Kustomization> {
  readonly owner: Owner;
  /** Objects applied in this run, per target, for health checks. */
  applied: { cluster: ObjectIdentity[]; store: ObjectRef[] } = { cluster: [], store: [] };
  cluster?: KubeTarget;
  /** The cluster apply wrote nothing (everything unchanged or skipped). */
  clusterUnchanged = false;
  /** Each applied cluster object as its apply answered (or as read or watched when unchanged), by object id. */
  readonly answered = new Map<string, KubeObject>();
  readonly changes: ChangeEntry[] = [];
  artifact?: ArtifactRef;
  readonly started = Date.now();
  /** A rollback hold this reconcile obeys (the held artifact is applied instead of the source's). */
  held?: HeldRevision;
  /** Why a hold ended in this reconcile (auto-release), for its event. */
  holdReleased?: string;
  /** Whether this reconcile got as far as deciding on a hold (else RolledBack stays as it was). */
  holdResolved = false;
  readonly rolledBackBefore = structuredClone(this.conditions.get(RolledBackCondition));

  constructor(
    store: Store,
    ref: ObjectRef,
    object: Kustomization,
    readonly context: ReconcileContext,
  ) {
    super(store, ref, object);
    this.owner = { name: ref.name, namespace: ref.namespace };
  }
}

/**
 * Reconciles `kustomize.toolkit.fluxcd.io/v1` Kustomization as Flux's kustomize-controller does: wait for
 * dependencies, fetch and verify the source artifact, render (cached by digest and inputs), apply Kedge's own
 * kinds to the store and everything else to a cluster with server-side apply, record the inventory, prune what
 * left it (never after a failed build or apply), wait for health, and watch applied objects for drift.
 */
export class KustomizationReconciler implements Reconciler {
  readonly kind = KustomizationKind;
  readonly controllerName = CONTROLLER;
  readonly watches: RelatedWatch[];
  readonly #drift = new Map<string, DriftState>();
  /** Held by a reconcile's apply–prune–watch step and by a drift undo of the same Kustomization. */
  readonly #applying = new KeyLock();
  readonly #undo = new PriorityLane<string>(DRIFT_UNDO_CONCURRENCY, (key, ids) => this.#undoDrift(key, ids));
  readonly #waits = new Map<string, { source: string; revision: string; abort: AbortController }>();
  readonly #targets = new Map<string, KubeTarget>();
  readonly #trees: ArtifactTrees;
  readonly #index: KustomizationIndex;
  readonly #requeueDependency: string;

  constructor(private readonly deps: KustomizationReconcilerDeps) {
    this.#requeueDependency = deps.requeueDependency ?? DEFAULT_DEPENDENCY_REQUEUE;
    this.#trees = new ArtifactTrees({ artifactRoot: deps.artifactRoot, tmpRoot: deps.scratchDir });
    this.#index = new KustomizationIndex(deps.store);
    this.watches = [
      { kind: GitRepositoryKind, map: (event) => this.#onSource(event) },
      { kind: BucketKind, map: (event) => this.#onSource(event) },
      { kind: OCIRepositoryKind, map: (event) => this.#onSource(event) },
      { kind: KustomizationKind, map: (event) => this.#dependentsOf(event) },
    ];
  }

  async reconcile(ref: ObjectRef, context: ReconcileContext): Promise<ReconcileResult> {
    const key = refString(ref);
    let object = (await this.deps.store.get(ref)) as Kustomization | undefined;
    if (!object) {
      this.#stopDrift(key);
      this.deps.renderCache?.delete(key);
      await this.deps.store.deleteHistory(ref).catch(() => undefined);
      return {};
    }
    if (object.metadata.deletionTimestamp) return this.#finalize(object, context);
    if (!object.metadata.finalizers?.includes(KustomizationFinalizer)) {
      object.metadata.finalizers = [...(object.metadata.finalizers ?? []), KustomizationFinalizer];
      object = (await this.deps.store.update(object)) as Kustomization;
    }
    const spec = object.spec!;
    const run = new Run(this.deps.store, ref, object, context);

    let outcome: unknown;
    try {
      await this.reconcileDependencies(run);
      const artifact = await this.reconcileSource(run);
      // As Flux: progress is shown once there is something to work on; a Kustomization waiting for its
      // dependencies or its source's first artifact writes only "waiting" (once: an unchanged status is not
      // written again).
      await run.markProgressing();
      run.status.lastAttemptedRevision = artifact.revision;
      // Extracted only on a render cache miss, once per revision for all its Kustomizations (ArtifactTrees).
      const tree = this.#trees.lease(sourceKeyOf(object), artifact, context.signal);
      try {
        const objects = await this.reconcileBuild(run, tree, artifact);
        await this.reconcileApply(run, objects, tree);
      } finally {
        await tree.release();
      }
      await this.reconcileHealth(run);
      run.status.lastAppliedRevision = artifact.revision;
    } catch (error) {
      outcome = toReconcileError(error);
    }
    if (run.holdResolved)
      markHold(run.conditions, run.held, `kedge rollback kustomization ${ref.name}${namespaceFlag(ref)}`);
    if (run.artifact && !(outcome instanceof WaitingError)) {
      run.status.history = upsertFluxHistory(run.status.history, {
        digest: snapshotDigest(run.artifact.revision, run.status.inventory?.entries),
        time: new Date(run.started),
        durationMs: Date.now() - run.started,
        status: outcome === undefined ? Reasons.ReconciliationSucceeded : (outcome as ReconcileError).reason,
        metadata: { revision: run.artifact.revision },
      });
    }
    await run.finish(READY_SUMMARY, outcome, {
      success: {
        reason: Reasons.ReconciliationSucceeded,
        message: `Applied revision: ${run.status.lastAppliedRevision ?? ''}`,
      },
    });
    await this.#recordResult(run, outcome);
    await this.#recordHistory(run, outcome);
    if (outcome instanceof StallingError || outcome instanceof WaitingError) throw outcome;
    const retryMs = parseDuration(spec.retryInterval ?? spec.interval);
    if (outcome !== undefined)
      throw new WaitingError((outcome as ReconcileError).reason, errorMessage(outcome), retryMs);
    return { requeueAfterMs: parseDuration(spec.interval) };
  }

  /** Wait until every `dependsOn` Kustomization is Ready at its latest generation and source revision. */
  private async reconcileDependencies(run: Run): Promise<void> {
    if (!run.object.spec?.dependsOn?.length) return;
    await assertNoDependencyCycle(this.deps.store, run.object);
    const why = await unreadyDependency(this.deps.store, run.object);
    if (why) {
      throw new WaitingError(
        Reasons.DependencyNotReady,
        `Dependencies do not meet ready condition (${why}), retrying in ${this.#requeueDependency}`,
        parseDuration(this.#requeueDependency),
      );
    }
  }

  /** The source's current artifact; waits (watching the source) while it has none. */
  private async reconcileSource(run: Run): Promise<ArtifactRef> {
    const sourceRef = run.object.spec!.sourceRef;
    const ref = {
      kind: sourceRef.kind,
      namespace: sourceRef.namespace ?? run.ref.namespace,
      name: sourceRef.name,
    };
    const retry = parseDuration(this.#requeueDependency);
    if (sourceRef.kind !== GitRepositoryKind && sourceRef.kind !== BucketKind && sourceRef.kind !== OCIRepositoryKind) {
      throw new StallingError(
        Reasons.ArtifactFailed,
        `source kind ${String(sourceRef.kind)} is not supported by Kedge: use a GitRepository, an OCIRepository or a Bucket`,
      );
    }
    const source = (await this.deps.store.get(ref)) as ArtifactSource | undefined;
    if (!source)
      throw new WaitingError(
        Reasons.ArtifactFailed,
        `Source '${refString(ref)}' not found, retrying in ${this.#requeueDependency}`,
        retry,
      );
    const artifact = source.status?.artifact;
    // A rollback holds the Kustomization at an earlier artifact, whatever the source has now.
    const hold = await resolveHold(this.deps.store, run.object, artifact);
    run.held = hold.held;
    run.holdReleased = hold.released;
    run.holdResolved = true;
    if (hold.held) {
      run.artifact = heldArtifact(hold.held);
      return run.artifact;
    }
    // Not fetched yet: wait quietly, as for a dependency (no warning); the source watch enqueues us when it has one.
    if (!artifact) throw new WaitingError(Reasons.DependencyNotReady, awaitingArtifact(ref, source), retry);
    run.artifact = artifact;
    return artifact;
  }

  /** Render the artifact with the spec's overlay and substitutions; the cache (digest, path, inputs) is asked first. */
  private async reconcileBuild(run: Run, tree: ArtifactLease, artifact: ArtifactRef): Promise<KObject[]> {
    const spec = run.object.spec!;
    const cache = { cache: this.deps.renderCache, cacheSlot: refString(run.ref), digest: artifact.digest };
    const where = {
      root: () => tree.root(),
      sharedRoot: true,
      path: spec.path,
      ...cache,
      tmpRoot: this.deps.scratchDir,
    };
    return renderKustomization(await renderOptionsOf(this.deps.store, run.ref.namespace, spec, where));
  }

  /**
   * Apply to the store and the cluster, record the inventory, prune what left it, watch for drift — never while
   * a drift undo of the same Kustomization runs.
   */
  private async reconcileApply(run: Run, objects: KObject[], tree: ArtifactLease): Promise<void> {
    await this.#applying.run(refString(run.ref), () => this.#applyAndPrune(run, objects, tree));
  }

  async #applyAndPrune(run: Run, objects: KObject[], tree: ArtifactLease): Promise<void> {
    const spec = run.object.spec!;
    run.cluster = await this.#clusterFor(run.object);
    const config = this.#targetConfig(run.object, run.cluster);
    const split = await splitTargets(objects, config, { root: () => tree.root(), path: spec.path ?? '' });
    // Operator mode: Apps reach the store through the cluster, still saying which artifact they came from.
    if (config.storeIsCluster) {
      const origin = { artifactPath: run.artifact!.path, revision: run.artifact!.revision };
      split.cluster = split.cluster.map((o) =>
        o.kind === 'App' ? withAppOrigin(structuredClone(o), origin) : o,
      );
    }
    const inventory: InventoryEntry[] = [];
    if (split.store.length > 0) {
      const artifact = run.artifact!;
      const origin = { artifactPath: artifact.path, revision: artifact.revision };
      const result = await applyToStore(this.deps.store, split.store, run.owner, origin, {
        beforeWrite: (intended) => recordIntended(run, intended),
      });
      run.changes.push(...result.changes);
      inventory.push(...result.inventory);
      run.applied.store = result.inventory.map((e) => {
        const id = identityOfEntry(e);
        return { kind: id.kind, namespace: id.namespace, name: id.name };
      });
    }
    const key = refString(run.ref);
    const signature = createHash('sha256').update(JSON.stringify(split.cluster)).digest('hex');
    if (this.#drift.get(key)?.signature !== signature) this.#stopDrift(key);
    if (split.cluster.length > 0) {
      const result = await applyToCluster(run.cluster!, split.cluster, {
        owner: run.owner,
        force: spec.force,
        signal: run.context.signal,
        watched: this.#watchedState(key),
        observed: (ref, state) => run.answered.set(objectId(ref), state),
        beforeWrite: (intended) => recordIntended(run, intended),
      });
      run.changes.push(...result.changes);
      inventory.push(...result.inventory);
      run.applied.cluster = result.applied;
      run.clusterUnchanged = result.changes.every((c) => c.action === 'unchanged' || c.action === 'skipped');
    }
    const pruneError = await this.#prune(run, inventory, config);
    await this.#recordChanges(run);
    if (pruneError) throw pruneError;
    if (split.cluster.length > 0 && !this.#drift.has(key))
      await this.#startDrift(run, split.cluster, signature);
  }

  /** Delete objects of the previous inventory missing from `inventory`; failed deletes stay in it. */
  async #prune(
    run: Run,
    inventory: InventoryEntry[],
    config: TargetConfig,
  ): Promise<ReconcileError | undefined> {
    const current = new Set(inventory.map((e) => e.id));
    const stale = (run.status.inventory?.entries ?? []).filter((e) => !current.has(e.id));
    const kept: InventoryEntry[] = [];
    let error: ReconcileError | undefined;
    if (run.object.spec!.prune && stale.length > 0) {
      const result = await this.#pruneEntries(run.owner, run.cluster, stale, config, run.context.signal);
      run.changes.push(...result.changes);
      kept.push(...result.failed);
      if (result.errors.length > 0)
        error = new ReconcileError(Reasons.PruneFailed, `prune failed: ${result.errors.join('; ')}`);
    }
    run.status.inventory = { entries: sortedEntries([...inventory, ...kept]) };
    return error;
  }

  async #pruneEntries(
    owner: Owner,
    cluster: KubeTarget | undefined,
    entries: InventoryEntry[],
    config: TargetConfig,
    signal?: AbortSignal,
  ): Promise<{ changes: ChangeEntry[]; failed: InventoryEntry[]; errors: string[] }> {
    const forStore = entries.filter(
      (e) => targetOf(identityOfEntry(e).apiVersion, identityOfEntry(e).kind, config) === 'store',
    );
    const forCluster = entries.filter((e) => !forStore.includes(e));
    const fromStore = await pruneFromStore(this.deps.store, forStore, owner);
    const fromCluster = cluster
      ? await pruneFromCluster(cluster, forCluster, owner, signal)
      : {
          changes: [],
          failed: forCluster,
          errors: forCluster.length > 0 ? ['no cluster configured to prune from'] : [],
        };
    return {
      changes: [...fromStore.changes, ...fromCluster.changes],
      failed: [...fromStore.failed, ...fromCluster.failed],
      errors: [...fromStore.failed.map((e) => `${e.id} delete failed`), ...fromCluster.errors],
    };
  }

  /**
   * With `wait` (all applied objects) or `healthChecks`, wait until healthy (by kstatus, or `healthCheckExprs` for
   * the kinds they name); a new source revision aborts it.
   */
  private async reconcileHealth(run: Run): Promise<void> {
    const spec = run.object.spec!;
    const targets = spec.wait
      ? run.applied
      : healthCheckTargets(run, this.#targetConfig(run.object, run.cluster));
    if (!spec.wait && !spec.healthChecks?.length) {
      run.conditions.delete(Conditions.Healthy);
      return;
    }
    const timeoutMs = parseDuration(spec.timeout ?? spec.interval);
    const revision = run.artifact!.revision;
    run.conditions.mark(
      Conditions.Healthy,
      'Unknown',
      Reasons.Progressing,
      `Running health checks for revision ${revision} with a timeout of ${formatDuration(timeoutMs)}`,
    );
    const status = statusRuleFor(spec.healthCheckExprs);
    const clusterHealthyNow =
      targets.cluster.length === 0 ||
      (run.cluster !== undefined && this.#healthyNow(run, targets.cluster, status));
    // Written only when there is something to wait for: a check the apply's answers or the watched state answer
    // at once would show "running health checks" to no one, and costs a status write on a Kubernetes store.
    if (!clusterHealthyNow || targets.store.length > 0) await run.patch();
    const key = refString(run.ref);
    const abort = new AbortController();
    const source = spec.sourceRef;
    this.#waits.set(key, {
      source: `${source.kind}/${source.namespace ?? run.ref.namespace}/${source.name}`,
      revision,
      abort,
    });
    const signal = AbortSignal.any([abort.signal, run.context.signal]);
    const started = Date.now();
    try {
      if (!clusterHealthyNow && run.cluster)
        await waitForHealthy(run.cluster, targets.cluster, { timeoutMs, signal, status });
      await waitForStoreHealthy(this.deps.store, targets.store, {
        timeoutMs: Math.max(1, timeoutMs - (Date.now() - started)),
        signal,
        status,
      });
    } catch (error) {
      if (abort.signal.aborted) {
        run.conditions.mark(
          Conditions.Healthy,
          'Unknown',
          Reasons.Progressing,
          'health check cancelled: a new revision is available',
        );
        throw new WaitingError(
          Reasons.Progressing,
          `health check for revision ${revision} cancelled: a new revision is available`,
          0,
        );
      }
      const message = errorMessage(error);
      run.conditions.mark(Conditions.Healthy, 'False', Reasons.HealthCheckFailed, message);
      throw new ReconcileError(Reasons.HealthCheckFailed, message, { cause: error });
    } finally {
      if (this.#waits.get(key)?.abort === abort) this.#waits.delete(key);
    }
    run.conditions.mark(
      Conditions.Healthy,
      'True',
      Reasons.Succeeded,
      `Health check passed in ${formatDuration(Date.now() - started)}`,
    );
  }

  /** Deletion: prune per `deletionPolicy` (not while suspended), stop watching, release the finalizer. */
  async #finalize(object: Kustomization, context: ReconcileContext): Promise<ReconcileResult> {
    const ref = {
      kind: KustomizationKind,
      namespace: object.metadata.namespace ?? 'default',
      name: object.metadata.name,
    };
    this.#stopDrift(refString(ref));
    this.deps.renderCache?.delete(refString(ref));
    this.#waits.get(refString(ref))?.abort.abort();
    const spec = object.spec!;
    const entries = object.status?.inventory?.entries ?? [];
    const prune = !spec.suspend && entries.length > 0 && deletesInventory(spec.deletionPolicy, spec.prune);
    if (prune) {
      const cluster = await this.#clusterFor(object).catch((error: unknown) => {
        context.log.warn({ err: error }, 'cluster unavailable: its objects are left in place');
        return undefined;
      });
      const config = this.#targetConfig(object, cluster);
      const owner = { name: ref.name, namespace: ref.namespace };
      const result = await this.#pruneEntries(
        owner,
        cluster,
        cluster
          ? entries
          : entries.filter(
              (e) => targetOf(identityOfEntry(e).apiVersion, identityOfEntry(e).kind, config) === 'store',
            ),
        config,
      );
      if (result.changes.length > 0) {
        await this.deps.events.record(
          object,
          'Normal',
          Reasons.Progressing,
          formatChangeSet(result.changes),
          { controller: CONTROLLER },
        );
      }
      if (result.errors.length > 0)
        throw new ReconcileError(
          Reasons.PruneFailed,
          `garbage collection failed: ${result.errors.join('; ')}`,
        );
    }
    const latest = await this.deps.store.get(ref);
    if (latest) {
      latest.metadata.finalizers = (latest.metadata.finalizers ?? []).filter(
        (f) => f !== KustomizationFinalizer,
      );
      await this.deps.store.update(latest);
    }
    return {};
  }

  /** Which targets `object` has, given the cluster it applies to. */
  #targetConfig(object: Kustomization, cluster: KubeTarget | undefined): TargetConfig {
    return {
      cluster: cluster !== undefined,
      remote: object.spec!.kubeConfig !== undefined,
      storeIsCluster: this.deps.storeIsCluster,
    };
  }

  /** The cluster this Kustomization applies to: `spec.kubeConfig`, else the engine's, impersonating `serviceAccountName`. */
  async #clusterFor(object: Kustomization): Promise<KubeTarget | undefined> {
    const spec = object.spec!;
    const namespace = object.metadata.namespace ?? 'default';
    let key: string;
    // The Kubernetes client is loaded with the first cluster target: an engine without one never loads it.
    const { kubeConfigFromSecret, KubeTarget } = await import('../apply/kube-client.ts');
    let load: () => KubeTarget;
    if (spec.kubeConfig?.secretRef) {
      const secretRef = spec.kubeConfig.secretRef;
      const secret = await this.deps.store.get({ kind: 'Secret', namespace, name: secretRef.name });
      if (!secret) {
        throw new ReconcileError(
          Reasons.ReconciliationFailed,
          `kubeconfig Secret '${namespace}/${secretRef.name}' not found`,
        );
      }
      key = `secret:${namespace}/${secretRef.name}:${secret.metadata.resourceVersion}:${secretRef.key ?? ''}`;
      load = () => new KubeTarget(kubeConfigFromSecret(secret, secretRef.key));
    } else if (this.deps.cluster) {
      const source = this.deps.cluster;
      const { storeKubeConfig: loadKubeConfig } = await import('../store/kubernetes/store-kubeconfig.ts');
      key = `engine:${source.kubeconfig ?? ''}:${source.context ?? ''}`;
      load = () => new KubeTarget(loadKubeConfig(source));
    } else {
      return undefined;
    }
    let target = this.#targets.get(key);
    if (!target) {
      try {
        target = load();
      } catch (error) {
        throw new StallingError(Reasons.ReconciliationFailed, errorMessage(error), { cause: error });
      }
      this.#targets.set(key, target);
    }
    if (!spec.serviceAccountName) return target;
    const saKey = `${key}|sa:${namespace}/${spec.serviceAccountName}`;
    let impersonating = this.#targets.get(saKey);
    if (!impersonating) {
      impersonating = target.impersonating({ namespace, name: spec.serviceAccountName });
      this.#targets.set(saKey, impersonating);
    }
    return impersonating;
  }

  async #startDrift(run: Run, desired: KObject[], signature: string): Promise<void> {
    const key = refString(run.ref);
    const { ref, object } = run;
    // Judged against the applied manifests, so a forced apply by another manager that takes our fields counts.
    const watch = new DriftWatch(run.cluster!, {
      owner: run.owner,
      objects: run.applied.cluster,
      applied: desired as KubeObject[],
      onDrift: (drift: DriftEvent) => {
        const what = drift.deleted ? 'was deleted' : `drifted: ${drift.fields.join(', ')}`;
        void this.deps.events.record(object, 'Warning', 'DriftDetected', `${drift.subject} ${what}`, {
          controller: CONTROLLER,
        });
        // Undone from the applied manifests on the drift lane: no fetch, no render, not behind the queue.
        this.#undo.add(key, drift.id);
      },
    });
    this.#drift.set(key, { watch, signature, ref, target: run.cluster!, inSyncApplies: 0 });
    await watch.start().catch((error: unknown) => {
      this.#stopDrift(key);
      run.context.log.warn({ err: error }, 'drift watch failed to start; drift is corrected at the interval');
    });
  }

  #stopDrift(key: string): void {
    this.#drift.get(key)?.watch.stop();
    this.#drift.delete(key);
    this.#undo.drop(key);
  }

  /**
   * The drift watch's live state for an apply of the set it watches (same signature, checked by the caller
   * stopping a watch of another set first), unless its informers are catching up after a broken watch or this
   * is the periodic full compare.
   */
  #watchedState(key: string): ((ref: ObjectIdentity) => KubeObject | undefined) | undefined {
    const drift = this.#drift.get(key);
    if (!drift) return undefined;
    if (!drift.watch.synced || drift.inSyncApplies >= FULL_COMPARE_EVERY - 1) {
      drift.inSyncApplies = 0;
      return undefined;
    }
    drift.inSyncApplies++;
    return (ref) => drift.watch.live(ref);
  }

  /**
   * Undo drift of the objects `ids` from the manifests the drift watch holds: re-apply those still differing
   * from them (deleted ones re-created), one event with what changed. Holds the Kustomization's apply lock, so it
   * never races a reconcile's apply; skipped while suspended or deleting. A failure falls back to a reconcile,
   * which reports it in status.
   */
  async #undoDrift(key: string, ids: string[]): Promise<void> {
    await this.#applying.run(key, async () => {
      const drift = this.#drift.get(key);
      if (!drift) return;
      const object = (await this.deps.store.get(drift.ref).catch(() => undefined)) as
        Kustomization | undefined;
      if (!object?.spec || object.spec.suspend || object.metadata.deletionTimestamp) return;
      try {
        const items: { desired: KubeObject; live: KubeObject | undefined }[] = [];
        for (const id of ids) {
          const ref = drift.watch.tracked(id);
          const desired = drift.watch.manifest(id);
          if (!ref || !desired || !drift.watch.differs(id)) continue;
          items.push({ desired, live: drift.watch.live(ref) ?? (await readLive(drift.target, ref)) });
        }
        if (items.length === 0) return;
        const owner = { name: drift.ref.name, namespace: drift.ref.namespace };
        const changes = await undoClusterDrift(drift.target, items, { owner, force: object.spec.force });
        const message = formatChangeSet(changes);
        const revision = object.status?.lastAppliedRevision;
        const annotations = revision ? { [REVISION_ANNOTATION]: revision } : undefined;
        if (message)
          await this.deps.events.record(object, 'Normal', Reasons.Progressing, message, {
            controller: CONTROLLER,
            annotations,
          });
      } catch (error) {
        const message = `drift undo failed, reconciling: ${errorMessage(error)}`;
        await this.deps.events
          .record(object, 'Warning', Reasons.ReconciliationFailed, message, { controller: CONTROLLER })
          .catch(() => undefined);
        this.deps.enqueue(drift.ref);
      }
    });
  }

  /**
   * When this reconcile wrote nothing to the cluster and the drift watch holds every object to check, Current:
   * healthy without a watch of its own (the state is the server's, less events in flight).
   */
  #healthyNow(run: Run, refs: readonly ObjectIdentity[], status: StatusRule): boolean {
    const drift = this.#drift.get(refString(run.ref));
    const watched = drift?.watch.synced === true && run.clusterUnchanged;
    return refs.every((ref) => {
      const answered = run.answered.get(objectId(ref));
      if (answered && status(answered).status === 'Current') return true;
      return watched && status(drift.watch.live(ref)).status === 'Current';
    });
  }

  /** A source changed: reconcile its Kustomizations that have not seen its revision; abort waits on an older one. */
  async #onSource(event: WatchEvent): Promise<ObjectRef[]> {
    const source = event.object as ArtifactSource;
    const artifact = event.type === 'DELETED' ? undefined : source.status?.artifact;
    const namespace = source.metadata.namespace ?? 'default';
    const sourceKey = `${source.kind}/${namespace}/${source.metadata.name}`;
    await this.#trees.current(sourceKey, artifact?.digest);
    const revision = artifact?.revision;
    if (!revision) return [];
    for (const wait of this.#waits.values()) {
      if (wait.source === sourceKey && wait.revision !== revision) wait.abort.abort();
    }
    // Also those that could not get the artifact: a new leader, or Kedge taking over from Flux, fetches the same
    // revision again under its own URL, and the artifact their last attempt could not download is there now.
    return (await this.#index.usingSource(sourceKey))
      .filter(
        (k) =>
          k.lastAttemptedRevision !== revision ||
          k.lastAppliedRevision !== revision ||
          k.readyReason === Reasons.ArtifactFailed,
      )
      .map((k) => k.ref);
  }

  /**
   * A Kustomization became ready: reconcile those that depend on it and are not ready yet. Those judging it by a
   * `readyExpr` are reconciled on any change of it, since the expression may hold without Ready=True.
   */
  async #dependentsOf(event: WatchEvent): Promise<ObjectRef[]> {
    await this.#index.observe(event);
    if (event.type === 'DELETED') return [];
    const dependency = event.object as Kustomization;
    const ready = dependency.status?.conditions?.find((c) => c.type === Conditions.Ready)?.status === 'True';
    const key = `${dependency.metadata.namespace ?? 'default'}/${dependency.metadata.name}`;
    return (await this.#index.dependentsOf(key))
      .filter(
        (k) => k.readyReason === Reasons.DependencyNotReady && (ready || k.dependsOnByExpr.includes(key)),
      )
      .map((k) => k.ref);
  }

  /** One event per apply listing what was created, configured and deleted (Flux's format). */
  async #recordChanges(run: Run): Promise<void> {
    const message = formatChangeSet(run.changes);
    if (!message) return;
    await this.deps.events.record(run.object, 'Normal', Reasons.Progressing, message, {
      controller: CONTROLLER,
      annotations: run.artifact ? { [REVISION_ANNOTATION]: run.artifact.revision } : undefined,
    });
  }

  /** A warning on failure (not while waiting on dependencies or progress); success after a change or recovery. */
  async #recordResult(run: Run, outcome: unknown): Promise<void> {
    const revision = run.status.lastAppliedRevision;
    const annotations =
      revision || run.artifact
        ? { [REVISION_ANNOTATION]: run.artifact?.revision ?? revision ?? '' }
        : undefined;
    const ready = run.conditions.get(Conditions.Ready)!;
    if (
      outcome !== undefined &&
      ready.reason !== Reasons.DependencyNotReady &&
      ready.reason !== Reasons.Progressing
    ) {
      await this.deps.events.record(run.object, 'Warning', ready.reason, ready.message, {
        controller: CONTROLLER,
        annotations,
      });
    } else if (outcome === undefined && (run.readyBefore !== 'True' || run.changes.length > 0)) {
      const interval = run.object.spec!.interval;
      const message = `Reconciliation finished in ${formatDuration(Date.now() - run.started)}, next run in ${interval}`;
      await this.deps.events.record(run.object, 'Normal', Reasons.ReconciliationSucceeded, message, {
        controller: CONTROLLER,
        annotations,
      });
    }
  }

  /**
   * History: an entry when the reconcile changed something (objects, revision, result, hold); events when a
   * rollback hold starts or ends. Not for waits (dependencies, a source without artifact, a cancelled health check).
   */
  async #recordHistory(run: Run, outcome: unknown): Promise<void> {
    if (run.holdResolved)
      await recordHoldEvents(
        this.deps.events,
        run.object,
        run.rolledBackBefore,
        { held: run.held, released: run.holdReleased },
        CONTROLLER,
      ).catch((error: unknown) =>
        run.context.log.warn({ err: error }, 'recording the rollback event failed'),
      );
    if (!run.artifact || outcome instanceof WaitingError) return;
    const entry = historyEntryOf({
      started: run.started,
      artifact: run.artifact,
      changes: run.changes,
      ready: run.conditions.get(Conditions.Ready)!,
      rolledBack: run.held !== undefined,
    });
    await recordHistory(
      this.deps.store,
      run.ref,
      entry,
      this.deps.historyLimit ?? DEFAULT_HISTORY_LIMIT,
    ).catch((error: unknown) => run.context.log.warn({ err: error }, 'recording history failed'));
  }

  /** Stops drift watches and the drift lane, closes cluster connections and removes the extracted artifacts. */
  async close(): Promise<void> {
    this.#undo.close();
    for (const key of [...this.#drift.keys()]) this.#stopDrift(key);
    for (const wait of this.#waits.values()) wait.abort.abort();
    for (const target of this.#targets.values()) target.close();
    this.#targets.clear();
    await this.#trees.close();
  }
}

/**
 * Before the store writes: when objects are about to be written that the inventory does not list yet, record
 * the inventory as the previous one plus those (one status write). A crash or failure part-way through the
 * writes then leaves every written object in `status.inventory`, and a later successful reconcile prunes those
 * no longer wanted. Nothing is removed from the inventory here, so nothing gets pruned because of a failure.
 */
async function recordIntended(run: Run, intended: readonly InventoryEntry[]): Promise<void> {
  const previous = run.status.inventory?.entries ?? [];
  const listed = new Set(previous.map((e) => e.id));
  const added = intended.filter((e) => !listed.has(e.id));
  if (added.length === 0) return;
  run.status.inventory = {
    entries: sortedEntries([...previous, ...new Map(added.map((e) => [e.id, e])).values()]),
  };
  await run.patch();
}

/** The object as the server has it now; undefined when it does not exist. */
async function readLive(target: KubeTarget, ref: ObjectIdentity): Promise<KubeObject | undefined> {
  const path = await target.discovery.pathFor(ref.apiVersion, ref.kind, ref.namespace || undefined, ref.name);
  return target.rest.request<KubeObject>('GET', path).catch((error: unknown) => {
    if ((error as { code?: number }).code === 404) return undefined;
    throw error;
  });
}

/** ` -n NS` for a command line, empty in the default namespace. */
function namespaceFlag(ref: ObjectRef): string {
  return ref.namespace === 'default' ? '' : ` -n ${ref.namespace}`;
}

/** Inventory entries in id order, as Flux lists them. */
function sortedEntries(entries: InventoryEntry[]): InventoryEntry[] {
  return entries.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** `spec.healthChecks` split by target: Kedge kinds are checked in the store, the rest in the cluster. */
function healthCheckTargets(run: Run, config: TargetConfig): Run['applied'] {
  const out: Run['applied'] = { cluster: [], store: [] };
  for (const check of run.object.spec!.healthChecks ?? []) {
    const namespace = check.namespace ?? run.ref.namespace;
    const apiVersion = check.apiVersion ?? 'v1';
    if (targetOf(apiVersion, check.kind, config) === 'store')
      out.store.push({ kind: check.kind, namespace, name: check.name });
    else out.cluster.push({ apiVersion, kind: check.kind, namespace, name: check.name });
  }
  return out;
}

/** The Ready message of a Kustomization whose source has no artifact yet, with the source's own reason when it failed. */
function awaitingArtifact(ref: ObjectRef, source: ArtifactSource): string {
  const ready = source.status?.conditions?.find((c) => c.type === Conditions.Ready);
  const why = ready?.status === 'False' ? `: ${ready.message}` : '';
  return `waiting for source ${ref.kind} '${ref.namespace}/${ref.name}' to fetch its first artifact${why}`;
}

const LIBRARY_REASONS = new Set<string>([
  Reasons.BuildFailed,
  Reasons.DecryptionFailed,
  Reasons.ArtifactFailed,
  Reasons.PruneFailed,
  Reasons.HealthCheckFailed,
]);

/** Any error as a ReconcileError with the reason its library gave it (BuildFailed, ArtifactFailed, …). */
function toReconcileError(error: unknown): ReconcileError {
  if (error instanceof ReconcileError) return error;
  const reason = (error as { reason?: unknown } | undefined)?.reason;
  const known =
    typeof reason === 'string' && LIBRARY_REASONS.has(reason) ? reason : Reasons.ReconciliationFailed;
  return new ReconcileError(known, errorMessage(error), { cause: error });
}
