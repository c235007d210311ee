import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Conditions, Reasons } from '../api/conditions.ts';
import { parseDuration } from '../api/duration.ts';
import {
  DEFAULT_HELM_REPOSITORY_INTERVAL,
  DEFAULT_HELM_REPOSITORY_TIMEOUT,
  HelmRepositoryKind,
  type HelmRepository,
} from '../api/helmrepository.ts';
import type { ObjectRef } from '../api/meta.ts';
import { ReconcileError, errorMessage } from '../runtime/errors.ts';
import type { EventRecorder } from '../runtime/event-recorder.ts';
import type { EngineMetrics } from '../runtime/metrics.ts';
import type { ReconcileContext, ReconcileResult, Reconciler } from '../runtime/reconciler.ts';
import type { ArtifactStorage } from '../source/artifact/index.ts';
import { HelmHttpError, httpGet } from '../source/helm/helm-http.ts';
import { IndexError, loadIndex } from '../source/helm/repository-index.ts';
import type { Store } from '../store/store.ts';
import {
  RepositoryAccessError,
  helmRepositoryAccess,
  mayPassCredentials,
  normalizeRepositoryUrl,
} from './helm-repository-access.ts';
import {
  SOURCE_CONTROLLER,
  SOURCE_READY_SUMMARY,
  SourceRun,
  authenticationFailed,
  recordSourceEvents,
  refreshStoredArtifact,
  timedOperation,
} from './source-run.ts';

export interface HelmRepositoryReconcilerDeps {
  store: Store;
  storage: ArtifactStorage;
  events: EventRecorder;
  metrics: EngineMetrics;
  /** Artifacts kept besides the current one (`--artifact-retention`). */
  retainArtifacts: number;
  scratchDir?: string;
}

type Run = SourceRun<HelmRepository>;

/**
 * Reconciles `source.toolkit.fluxcd.io/v1` HelmRepository as Flux's source-controller does. `type: default`:
 * fetch `<url>/index.yaml` (basic auth, TLS), revision `sha256:` of the fetched bytes (the cheap check:
 * an unchanged index is not parsed or stored again), load it with Helm's rules (an index Helm would refuse is
 * FetchFailed/IndexationFailed) and store it, as JSON with sorted entries, as the artifact
 * `index-<hex>.yaml`. `type: oci`: a static object with no artifact and an empty status, as Flux leaves it.
 * A failure keeps the last good artifact.
 */
export class HelmRepositoryReconciler implements Reconciler {
  readonly kind = HelmRepositoryKind;
  readonly controllerName = SOURCE_CONTROLLER;

  constructor(private readonly deps: HelmRepositoryReconcilerDeps) {}

  async reconcile(ref: ObjectRef, context: ReconcileContext): Promise<ReconcileResult> {
    const object = (await this.deps.store.get(ref)) as HelmRepository | undefined;
    if (!object) {
      await this.deps.storage.removeAll(HelmRepositoryKind, ref.namespace, ref.name);
      return {};
    }
    if (object.spec!.type === 'oci') return this.reconcileStatic(object, ref);
    const run: Run = new SourceRun(this.deps.store, ref, object, context);
    await run.markProgressing();
    let outcome: unknown;
    try {
      await refreshStoredArtifact(this.deps.storage, run);
      run.status.url = run.status.artifact?.url;
      await this.reconcileSource(run);
    } catch (error) {
      outcome = error;
    }
    await run.finish(SOURCE_READY_SUMMARY, outcome);
    await recordSourceEvents(this.deps.events, run, outcome);
    if (outcome !== undefined) throw outcome instanceof Error ? outcome : new Error(errorMessage(outcome));
    return { requeueAfterMs: parseDuration(object.spec!.interval ?? DEFAULT_HELM_REPOSITORY_INTERVAL) };
  }

  /** An OCI repository is a data container: no artifact, no conditions (Flux's migration to static). */
  private async reconcileStatic(object: HelmRepository, ref: ObjectRef): Promise<ReconcileResult> {
    if (object.status && Object.keys(object.status).length > 0) {
      await this.deps.storage.removeAll(HelmRepositoryKind, ref.namespace, ref.name);
      await this.deps.store.updateStatus(ref, {});
    }
    return {};
  }

  /** Fetch the index; when its digest moved (or there is no artifact), validate and store it. */
  private async reconcileSource(run: Run): Promise<void> {
    const spec = run.object.spec!;
    const url = normalizeRepositoryUrl(spec.url);
    const access = await helmRepositoryAccess(this.deps.store, run.object).catch((error: unknown) => {
      if (error instanceof RepositoryAccessError) throw authenticationFailed(run, error.message);
      throw error;
    });
    const indexUrl = new URL('index.yaml', url).toString();
    const timeout = spec.timeout ?? DEFAULT_HELM_REPOSITORY_TIMEOUT;
    const signal = AbortSignal.any([AbortSignal.timeout(parseDuration(timeout)), run.context.signal]);
    const bytes = await timedOperation(this.deps.metrics.helmFetchDuration, 'index', () =>
      httpGet(indexUrl, access, {
        sendAuth: mayPassCredentials(url, indexUrl, spec.passCredentials),
        signal,
      }),
    ).catch((error: unknown) => {
      if (run.context.signal.aborted) throw error;
      const timedOut = signal.aborted;
      const reason =
        error instanceof HelmHttpError && error.isAuthentication
          ? Reasons.AuthenticationFailed
          : Reasons.Failed;
      const why = timedOut ? `timed out after ${timeout}` : errorMessage(error);
      const message = `failed to fetch Helm repository index: ${why}`;
      run.conditions.mark(Conditions.FetchFailed, 'True', reason, message);
      throw new ReconcileError(reason, message, { cause: error });
    });
    const hex = createHash('sha256').update(bytes).digest('hex');
    const revision = `sha256:${hex}`;
    const current = run.status.artifact;
    if (current?.revision === revision) {
      run.conditions.delete(Conditions.FetchFailed);
      run.conditions.delete(Conditions.ArtifactOutdated);
      run.conditions.mark(
        Conditions.ArtifactInStorage,
        'True',
        Reasons.Succeeded,
        `stored artifact: revision '${revision}'`,
      );
      return;
    }
    let json: string;
    try {
      json = JSON.stringify(loadIndex(bytes), null, 2);
    } catch (error) {
      if (!(error instanceof IndexError)) throw error;
      const message = `failed to load Helm repository from index YAML: ${error.message}`;
      run.conditions.mark(Conditions.FetchFailed, 'True', Reasons.IndexationFailed, message);
      throw new ReconcileError(Reasons.IndexationFailed, message, { cause: error });
    }
    run.conditions.delete(Conditions.FetchFailed);
    if (current)
      run.conditions.mark(
        Conditions.ArtifactOutdated,
        'True',
        Reasons.NewRevision,
        `new index revision '${revision}'`,
      );
    await this.reconcileArtifact(run, revision, hex, json, bytes.length, spec.url);
  }

  /** Store the loaded index as the artifact, record it, collect old ones. */
  private async reconcileArtifact(
    run: Run,
    revision: string,
    hex: string,
    json: string,
    size: number,
    url: string,
  ) {
    const dir = await mkdtemp(join(this.deps.scratchDir ?? tmpdir(), 'kedge-helmrepo-'));
    try {
      const file = join(dir, 'index.json');
      await writeFile(file, json);
      const artifact = await this.deps.storage
        .storeFile(HelmRepositoryKind, run.ref.namespace, run.ref.name, `index-${hex}.yaml`, revision, file)
        .catch((error: unknown) => {
          const message = `unable to save artifact to storage: ${errorMessage(error)}`;
          run.conditions.mark(
            Conditions.StorageOperationFailed,
            'True',
            Reasons.ArchiveOperationFailed,
            message,
          );
          throw new ReconcileError(Reasons.ArchiveOperationFailed, message, { cause: error });
        });
      run.conditions.delete(Conditions.StorageOperationFailed);
      run.conditions.delete(Conditions.ArtifactOutdated);
      run.conditions.mark(
        Conditions.ArtifactInStorage,
        'True',
        Reasons.Succeeded,
        `stored artifact: revision '${revision}'`,
      );
      run.status.artifact = artifact;
      run.status.url = artifact.url;
      run.newArtifact = { artifact, message: `fetched index of size ${formatSize(size)} from '${url}'` };
      await this.deps.storage
        .garbageCollect(
          HelmRepositoryKind,
          run.ref.namespace,
          run.ref.name,
          [artifact.path],
          this.deps.retainArtifacts,
        )
        .catch((error: unknown) =>
          run.context.log.warn({ err: error }, 'artifact garbage collection failed'),
        );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

/** Bytes as Flux's events show them (`30.88kB`, decimal units). */
function formatSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${bytes}B` : `${value.toFixed(2).replace(/\.?0+$/, '')}${units[unit]}`;
}
