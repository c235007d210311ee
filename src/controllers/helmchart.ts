import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BucketKind } from '../api/bucket.ts';
import { Conditions, Reasons } from '../api/conditions.ts';
import { secretValues } from '../api/core.ts';
import { parseDuration } from '../api/duration.ts';
import type { ArtifactSource } from '../api/gitrepository.ts';
import { GitRepositoryKind } from '../api/gitrepository.ts';
import { HelmChartKind, type HelmChart } from '../api/helmchart.ts';
import { HelmRepositoryKind, type HelmRepository } from '../api/helmrepository.ts';
import type { ObjectRef } from '../api/meta.ts';
import { ReconcileError, StallingError, WaitingError, errorMessage } from '../runtime/errors.ts';
import type { EventRecorder } from '../runtime/event-recorder.ts';
import type { EngineMetrics } from '../runtime/metrics.ts';
import type { ReconcileContext, ReconcileResult, Reconciler, RelatedWatch } from '../runtime/reconciler.ts';
import type { ArtifactStorage } from '../source/artifact/index.ts';
import { extractArtifact } from '../kustomize/safe-extract.ts';
import {
  buildFromIndex,
  buildFromOci,
  buildFromSourceTree,
  buildSummary,
  type BuildOptions,
  type ChartBuild,
} from '../source/helm/chart-builders.ts';
import { ChartBuildError, type DependencyRepository } from '../source/helm/chart-package.ts';
import { HelmHome } from '../source/helm/helm-command.ts';
import { loadIndex } from '../source/helm/repository-index.ts';
import type { Store, WatchEvent } from '../store/store.ts';
import {
  RepositoryAccessError,
  helmRepositoryAccess,
  normalizeRepositoryUrl,
} from './helm-repository-access.ts';
import {
  SOURCE_CONTROLLER,
  SourceRun,
  authenticationFailed,
  recordSourceEvents,
  refreshStoredArtifact,
  timedOperation,
} from './source-run.ts';

export interface HelmChartReconcilerDeps {
  store: Store;
  storage: ArtifactStorage;
  events: EventRecorder;
  metrics: EngineMetrics;
  retainArtifacts: number;
  scratchDir?: string;
}

type Run = SourceRun<HelmChart>;

/** source-controller's summary for HelmChart: BuildFailed joins the negative conditions. */
const HELM_CHART_READY_SUMMARY = {
  negative: [
    Conditions.StorageOperationFailed,
    Conditions.FetchFailed,
    Conditions.BuildFailed,
    Conditions.ArtifactOutdated,
  ],
  positive: [Conditions.ArtifactInStorage],
} as const;

/** Build failures reported on BuildFailed rather than FetchFailed, as Flux's observeChartBuild. */
const BUILD_REASONS = new Set([
  'MetadataPatchError',
  'ValuesFilesError',
  'DependencyBuildError',
  'ChartPackageError',
]);

/** How long to wait for a source that has no artifact yet (its watch usually wakes us first). */
const NO_ARTIFACT_RETRY_MS = 30_000;

/**
 * Reconciles `source.toolkit.fluxcd.io/v1` HelmChart as Flux's source-controller does: the chart from a
 * HelmRepository (index artifact → version in range → download; or `helm pull` from an OCI repository), or a
 * chart directory in a GitRepository or Bucket artifact packaged with its dependencies by helm. Values files
 * are merged into the chart's values; `reconcileStrategy: Revision` puts the source's short revision in the
 * version's build metadata. The artifact is the chart `.tgz`, revision the chart version. A new source
 * artifact enqueues the charts using it; a failure keeps the last good artifact.
 */
export class HelmChartReconciler implements Reconciler {
  readonly kind = HelmChartKind;
  readonly controllerName = SOURCE_CONTROLLER;
  readonly watches: RelatedWatch[];

  constructor(private readonly deps: HelmChartReconcilerDeps) {
    this.watches = [HelmRepositoryKind, GitRepositoryKind, BucketKind].map((kind) => ({
      kind,
      map: (event: WatchEvent) => this.chartsUsing(kind, event),
    }));
  }

  async reconcile(ref: ObjectRef, context: ReconcileContext): Promise<ReconcileResult> {
    const object = (await this.deps.store.get(ref)) as HelmChart | undefined;
    if (!object) {
      await this.deps.storage.removeAll(HelmChartKind, ref.namespace, ref.name);
      return {};
    }
    const run: Run = new SourceRun(this.deps.store, ref, object, context);
    await run.markProgressing();
    let outcome: unknown;
    try {
      await refreshStoredArtifact(this.deps.storage, run);
      run.status.url = run.status.artifact?.url;
      await this.reconcileSource(run);
    } catch (error) {
      outcome = toReconcileError(run, error);
    }
    const stored = run.conditions.get(Conditions.ArtifactInStorage);
    await run.finish(HELM_CHART_READY_SUMMARY, outcome, {
      ...(stored?.status === 'True' ? { success: { reason: stored.reason, message: stored.message } } : {}),
    });
    await recordSourceEvents(this.deps.events, run, outcome);
    if (outcome !== undefined) throw outcome instanceof Error ? outcome : new Error(errorMessage(outcome));
    return { requeueAfterMs: parseDuration(object.spec!.interval) };
  }

  /** Get the source, build the chart from it (or find the current artifact still right), store it. */
  private async reconcileSource(run: Run): Promise<void> {
    const spec = run.object.spec!;
    const sourceRef = { kind: spec.sourceRef.kind, namespace: run.ref.namespace, name: spec.sourceRef.name };
    const source = (await this.deps.store.get(sourceRef)) as ArtifactSource | undefined;
    if (!source) {
      const message = `failed to get source: ${spec.sourceRef.kind} '${run.ref.namespace}/${spec.sourceRef.name}' not found`;
      run.conditions.mark(Conditions.FetchFailed, 'True', Reasons.SourceUnavailable, message);
      throw new ReconcileError(Reasons.SourceUnavailable, message);
    }
    const oci = source.kind === HelmRepositoryKind && (source as HelmRepository).spec?.type === 'oci';
    const sourceArtifact = source.status?.artifact;
    if (!oci && (!sourceArtifact || !(await this.deps.storage.exists(sourceArtifact)))) {
      const message = `no artifact available for ${spec.sourceRef.kind} source '${spec.sourceRef.name}'`;
      run.conditions.mark(Conditions.FetchFailed, 'True', Reasons.NoSourceArtifact, message);
      throw new WaitingError(Reasons.NoSourceArtifact, message, NO_ARTIFACT_RETRY_MS);
    }
    if (sourceArtifact) run.status.observedSourceArtifactRevision = sourceArtifact.revision;

    const workDir = await mkdtemp(join(this.deps.scratchDir ?? tmpdir(), 'kedge-helmchart-'));
    const home = await HelmHome.create(workDir);
    try {
      const options: BuildOptions = {
        home,
        workDir,
        valuesFiles: spec.valuesFiles ?? [],
        ignoreMissingValuesFiles: spec.ignoreMissingValuesFiles ?? false,
        versionMetadata: versionMetadata(run.object, sourceArtifact?.revision),
        cached: run.status.artifact
          ? {
              name: run.status.observedChartName,
              version: run.status.artifact.revision,
              valuesFiles: run.status.observedValuesFiles,
            }
          : undefined,
        force: run.newGeneration,
        signal: run.context.signal,
      };
      const build = await timedOperation(this.deps.metrics.helmFetchDuration, 'chart', () =>
        oci
          ? this.buildOci(run, source as HelmRepository, options)
          : source.kind === HelmRepositoryKind
            ? this.buildHttp(run, source as HelmRepository, options)
            : this.buildTree(run, sourceArtifact!, options),
      );
      await this.reconcileArtifact(run, build);
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  }

  private async buildHttp(run: Run, repository: HelmRepository, options: BuildOptions): Promise<ChartBuild> {
    const spec = run.object.spec!;
    const access = await this.access(run, repository);
    const index = loadIndex(await readFile(this.deps.storage.localPath(repository.status!.artifact!.path)));
    const source = {
      index,
      url: normalizeRepositoryUrl(repository.spec!.url),
      access,
      passCredentials: repository.spec!.passCredentials,
    };
    return buildFromIndex(source, spec.chart, spec.version, options);
  }

  private async buildOci(run: Run, repository: HelmRepository, options: BuildOptions): Promise<ChartBuild> {
    const spec = run.object.spec!;
    const repoSpec = repository.spec!;
    const host = new URL(repoSpec.url.replace(/^oci:/, 'https:')).host;
    const tlsArgs: string[] = [];
    if (repoSpec.secretRef) {
      const secret = await this.deps.store.get({
        kind: 'Secret',
        namespace: run.ref.namespace,
        name: repoSpec.secretRef.name,
      });
      if (!secret)
        throw authenticationFailed(
          run,
          `failed to get authentication secret '${run.ref.namespace}/${repoSpec.secretRef.name}': not found`,
        );
      const data = secretValues(secret);
      if (data['.dockerconfigjson']) await options.home.writeFile('registry.json', data['.dockerconfigjson']);
      else if (data.username !== undefined && data.password !== undefined)
        await options.home.setRegistryAuth(host, data.username, data.password);
      else
        throw authenticationFailed(
          run,
          `invalid '${run.ref.namespace}/${repoSpec.secretRef.name}' secret data: it needs 'username' and 'password', or '.dockerconfigjson'`,
        );
    }
    if (repoSpec.certSecretRef) {
      const access = await this.access(run, { ...repository, spec: { ...repoSpec, secretRef: undefined } });
      if (access.ca) tlsArgs.push('--ca-file', await options.home.writeFile('oci-ca.crt', access.ca));
      if (access.cert && access.key) {
        tlsArgs.push('--cert-file', await options.home.writeFile('oci-tls.crt', access.cert));
        tlsArgs.push('--key-file', await options.home.writeFile('oci-tls.key', access.key));
      }
    }
    return buildFromOci(
      { url: repoSpec.url, plainHttp: repoSpec.insecure === true, tlsArgs },
      spec.chart,
      spec.version,
      options,
    );
  }

  private async buildTree(
    run: Run,
    artifact: NonNullable<ArtifactSource['status']>['artifact'] & object,
    options: BuildOptions,
  ) {
    const root = await extractArtifact(this.deps.storage.localPath(artifact.path), {
      digest: artifact.digest,
      tmpRoot: options.workDir,
    });
    return buildFromSourceTree(
      root,
      run.object.spec!.chart,
      (url) => this.dependencyRepository(run, url),
      options,
    );
  }

  /** A dependency's repository: the HelmRepository in the chart's namespace with that URL, with its credentials. */
  private async dependencyRepository(run: Run, url: string): Promise<DependencyRepository | undefined> {
    const wanted = normalizeRepositoryUrl(url);
    const repositories = (await this.deps.store.list(HelmRepositoryKind, {
      namespace: run.ref.namespace,
    })) as HelmRepository[];
    const match = repositories.find(
      (r) => r.spec?.type !== 'oci' && normalizeRepositoryUrl(r.spec!.url) === wanted,
    );
    if (!match) return undefined;
    return { access: await this.access(run, match), passCredentials: match.spec!.passCredentials };
  }

  private async access(run: Run, repository: HelmRepository) {
    return helmRepositoryAccess(this.deps.store, repository).catch((error: unknown) => {
      if (error instanceof RepositoryAccessError) throw authenticationFailed(run, error.message);
      throw error;
    });
  }

  /** Store the built chart (unless the current artifact is it), record what was built. */
  private async reconcileArtifact(run: Run, build: ChartBuild): Promise<void> {
    const summary = buildSummary(build);
    const reason = build.packaged ? Reasons.ChartPackageSucceeded : Reasons.ChartPullSucceeded;
    run.conditions.delete(Conditions.FetchFailed);
    run.conditions.delete(Conditions.BuildFailed);
    if (build.file) {
      const { storage } = this.deps;
      const artifact = await storage
        .storeFile(
          HelmChartKind,
          run.ref.namespace,
          run.ref.name,
          `${build.name}-${build.version}.tgz`,
          build.version,
          build.file,
        )
        .catch((error: unknown) => {
          const message = `unable to copy Helm chart to storage: ${errorMessage(error)}`;
          run.conditions.mark(
            Conditions.StorageOperationFailed,
            'True',
            Reasons.ArchiveOperationFailed,
            message,
          );
          throw new ReconcileError(Reasons.ArchiveOperationFailed, message, { cause: error });
        });
      const previous = run.status.artifact;
      run.status.artifact = artifact;
      run.status.url = artifact.url;
      if (previous?.revision !== artifact.revision || previous.digest !== artifact.digest)
        run.newArtifact = { artifact, message: summary, reason };
      await storage
        .garbageCollect(
          HelmChartKind,
          run.ref.namespace,
          run.ref.name,
          [artifact.path],
          this.deps.retainArtifacts,
        )
        .catch((error: unknown) =>
          run.context.log.warn({ err: error }, 'artifact garbage collection failed'),
        );
    }
    run.status.observedChartName = build.name;
    if (build.valuesFiles.length > 0) run.status.observedValuesFiles = build.valuesFiles;
    else delete run.status.observedValuesFiles;
    run.conditions.delete(Conditions.StorageOperationFailed);
    run.conditions.delete(Conditions.ArtifactOutdated);
    run.conditions.mark(Conditions.ArtifactInStorage, 'True', reason, summary);
  }

  /** Charts whose source this is, when its artifact moved past what they last built from. */
  private async chartsUsing(kind: string, event: WatchEvent): Promise<ObjectRef[]> {
    const source = event.object as ArtifactSource;
    const namespace = source.metadata.namespace ?? 'default';
    const revision = event.type === 'DELETED' ? undefined : source.status?.artifact?.revision;
    const charts = (await this.deps.store.list(HelmChartKind, { namespace })) as HelmChart[];
    return charts
      .filter((c) => c.spec?.sourceRef.kind === kind && c.spec.sourceRef.name === source.metadata.name)
      .filter((c) => revision !== undefined && c.status?.observedSourceArtifactRevision !== revision)
      .map((c) => ({ kind: HelmChartKind, namespace, name: c.metadata.name }));
  }
}

/**
 * Flux's version metadata: with `reconcileStrategy: Revision` and a Git or Bucket source, the first 12 hex
 * characters of the source revision; with values files, the object's generation (joined by `.`).
 */
function versionMetadata(chart: HelmChart, sourceRevision: string | undefined): string | undefined {
  const spec = chart.spec!;
  const parts: string[] = [];
  if (spec.reconcileStrategy === 'Revision' && spec.sourceRef.kind !== HelmRepositoryKind && sourceRevision) {
    const hex = /(?:sha1|sha256):([0-9a-f]+)$/.exec(sourceRevision)?.[1] ?? sourceRevision;
    parts.push(hex.slice(0, 12));
  }
  if ((spec.valuesFiles ?? []).length > 0) parts.push(String(chart.metadata.generation ?? 1));
  return parts.length > 0 ? parts.join('.') : undefined;
}

/** A build error on its condition (FetchFailed or BuildFailed), stalling when only a spec change can fix it. */
function toReconcileError(run: Run, error: unknown): unknown {
  if (!(error instanceof ChartBuildError)) return error;
  const condition = BUILD_REASONS.has(error.reason) ? Conditions.BuildFailed : Conditions.FetchFailed;
  run.conditions.delete(
    condition === Conditions.BuildFailed ? Conditions.FetchFailed : Conditions.BuildFailed,
  );
  run.conditions.mark(condition, 'True', error.reason, error.message);
  return error.persistent
    ? new StallingError(error.reason, error.message, { cause: error })
    : new ReconcileError(error.reason, error.message, { cause: error });
}
