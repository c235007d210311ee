import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BucketKind, DEFAULT_BUCKET_TIMEOUT, type Bucket } from '../api/bucket.ts';
import { Conditions, Reasons } from '../api/conditions.ts';
import { parseDuration } from '../api/duration.ts';
import type { Artifact } from '../api/gitrepository.ts';
import type { ObjectRef } from '../api/meta.ts';
import { ReconcileError, StallingError, errorMessage } from '../runtime/errors.ts';
import type { EventRecorder } from '../runtime/event-recorder.ts';
import type { EngineMetrics } from '../runtime/metrics.ts';
import type { ReconcileContext, ReconcileResult, Reconciler } from '../runtime/reconciler.ts';
import type { ArtifactStorage } from '../source/artifact/index.ts';
import {
  BucketError,
  S3Client,
  bucketRevision,
  downloadBucket,
  indexBucket,
  type BucketIndex,
  type S3Location,
} from '../source/bucket/index.ts';
import type { Store } from '../store/store.ts';
import {
  SOURCE_CONTROLLER,
  SOURCE_READY_SUMMARY,
  SourceRun,
  authenticationFailed,
  proxyUrlFrom,
  recordSourceEvents,
  refreshStoredArtifact,
  retainedPaths,
  sourceSecretData,
  timedOperation,
} from './source-run.ts';

export interface BucketReconcilerDeps {
  store: Store;
  storage: ArtifactStorage;
  events: EventRecorder;
  metrics: EngineMetrics;
  /** Artifacts kept besides the current one (`--artifact-retention`). */
  retainArtifacts: number;
  /** Artifact paths of this source that history or a held rollback refers to: never garbage collected. */
  retainedArtifacts?: (source: ObjectRef) => Promise<string[]>;
  /** Scratch space for downloads (the engine's `<data-dir>/tmp`). Default: the OS temp dir. */
  scratchDir?: string;
}

type Run = SourceRun<Bucket>;

/**
 * Reconciles `source.toolkit.fluxcd.io/v1` Bucket as Flux's source-controller does for S3-compatible
 * storage: list the objects (with `.sourceignore` and `spec.ignore`), compute the revision from keys and
 * ETags (the listing is the cheap check: nothing is downloaded when the revision is unchanged), download
 * into a scratch dir, pack an immutable artifact. A failure keeps the last good artifact.
 */
export class BucketReconciler implements Reconciler {
  readonly kind = BucketKind;
  readonly controllerName = SOURCE_CONTROLLER;

  constructor(private readonly deps: BucketReconcilerDeps) {}

  async reconcile(ref: ObjectRef, context: ReconcileContext): Promise<ReconcileResult> {
    const object = (await this.deps.store.get(ref)) as Bucket | undefined;
    if (!object) {
      await this.deps.storage.removeAll(BucketKind, ref.namespace, ref.name);
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
      outcome = error;
    }
    await run.finish(SOURCE_READY_SUMMARY, outcome);
    await recordSourceEvents(this.deps.events, run, outcome);
    if (outcome !== undefined) throw outcome instanceof Error ? outcome : new Error(errorMessage(outcome));
    return { requeueAfterMs: parseDuration(object.spec!.interval) };
  }

  private async reconcileSource(run: Run): Promise<void> {
    const spec = run.object.spec!;
    const location = await this.location(run);
    const timeout = spec.timeout ?? DEFAULT_BUCKET_TIMEOUT;
    const timeoutSignal = AbortSignal.timeout(parseDuration(timeout));
    const signal = AbortSignal.any([timeoutSignal, run.context.signal]);
    // The MinIO client takes no signal: an operation that outlives the timeout is abandoned, its result ignored.
    const within = <T>(what: Promise<T>): Promise<T> =>
      new Promise<T>((resolve, reject) => {
        const onAbort = () =>
          reject(
            timeoutSignal.aborted
              ? new BucketError(
                  `bucket '${spec.bucketName}' at ${spec.endpoint}: timed out after ${timeout}`,
                  undefined,
                )
              : new Error('reconcile cancelled'),
          );
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        what.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
      });
    const client = await S3Client.connect(location);
    try {
      await this.fetchAndStore(run, client, signal, within);
    } finally {
      client.close();
    }
  }

  /** List; when the revision moved (or there is no artifact yet), download and store a new artifact. */
  private async fetchAndStore(
    run: Run,
    client: S3Client,
    signal: AbortSignal,
    within: <T>(what: Promise<T>) => Promise<T>,
  ): Promise<void> {
    const spec = run.object.spec!;
    const listed = await timedOperation(this.deps.metrics.bucketFetchDuration, 'list', () =>
      within(indexBucket(client, spec.bucketName, { prefix: spec.prefix, ignore: spec.ignore })),
    ).catch((error: unknown) => this.fetchFailed(run, error));
    const revision = bucketRevision(listed.index);
    const current = run.status.artifact;
    if (current && current.revision === revision && run.status.observedIgnore === spec.ignore) {
      run.conditions.delete(Conditions.FetchFailed);
      run.conditions.delete(Conditions.ArtifactOutdated);
      run.context.log.debug({ revision }, 'bucket unchanged, download skipped');
      return;
    }
    if (current && current.revision !== revision) {
      run.conditions.mark(
        Conditions.ArtifactOutdated,
        'True',
        Reasons.NewRevision,
        `new upstream revision '${revision}'`,
      );
    }

    const dir = await mkdtemp(join(this.deps.scratchDir ?? tmpdir(), 'kedge-bucket-'));
    try {
      const files = await timedOperation(this.deps.metrics.bucketFetchDuration, 'download', () =>
        within(downloadBucket(client, listed.index, dir, { sourceIgnore: listed.sourceIgnore, signal })),
      ).catch((error: unknown) => this.fetchFailed(run, error));
      run.conditions.delete(Conditions.FetchFailed);
      await this.reconcileArtifact(run, dir, listed.index, files);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Pack the downloaded objects, store and record the artifact, collect old ones. */
  private async reconcileArtifact(run: Run, dir: string, index: BucketIndex, files: number): Promise<void> {
    const spec = run.object.spec!;
    const { storage } = this.deps;
    // Objects that vanished or changed during the download are reflected in the index by now.
    const revision = bucketRevision(index);
    let artifact: Artifact;
    try {
      artifact = await storage.archive(BucketKind, run.ref.namespace, run.ref.name, revision, dir, {
        keepAll: true,
      });
    } catch (error) {
      const message = `failed to archive revision '${revision}': ${errorMessage(error)}`;
      run.conditions.mark(Conditions.StorageOperationFailed, 'True', Reasons.ArchiveOperationFailed, message);
      throw new ReconcileError(Reasons.ArchiveOperationFailed, message, { cause: error });
    }
    run.conditions.delete(Conditions.StorageOperationFailed);
    run.conditions.delete(Conditions.ArtifactOutdated);
    run.conditions.mark(
      Conditions.ArtifactInStorage,
      'True',
      Reasons.Succeeded,
      `stored artifact: revision '${revision}'`,
    );
    const previous = run.status.artifact;
    run.status.artifact = artifact;
    run.status.url = artifact.url;
    run.status.observedIgnore = spec.ignore;
    if (previous?.revision !== artifact.revision || previous.digest !== artifact.digest) {
      run.newArtifact = {
        artifact,
        message: `stored artifact with ${files} fetched files from '${spec.bucketName}' bucket`,
      };
    }
    await retainedPaths(this.deps.retainedArtifacts, run.ref)
      .then((retained) =>
        storage.garbageCollect(
          BucketKind,
          run.ref.namespace,
          run.ref.name,
          [artifact.path, ...retained],
          this.deps.retainArtifacts,
        ),
      )
      .catch((error: unknown) => run.context.log.warn({ err: error }, 'artifact garbage collection failed'));
  }

  /** The spec with its Secrets resolved: access keys, CA, proxy. */
  private async location(run: Run): Promise<S3Location> {
    const spec = run.object.spec!;
    const location: S3Location = {
      endpoint: spec.endpoint,
      bucketName: spec.bucketName,
      insecure: spec.insecure,
      region: spec.region,
    };
    if (spec.secretRef) {
      const data = await sourceSecretData(this.deps.store, run, spec.secretRef.name, 'credentials');
      if (data.accesskey === undefined || data.secretkey === undefined)
        throw authenticationFailed(
          run,
          `invalid '${spec.secretRef.name}' secret data: required fields 'accesskey' and 'secretkey'`,
        );
      location.accessKey = data.accesskey;
      location.secretKey = data.secretkey;
    }
    if (spec.certSecretRef) {
      const data = await sourceSecretData(this.deps.store, run, spec.certSecretRef.name, 'TLS');
      const ca = data['ca.crt'] ?? data.caFile;
      if (!ca)
        throw authenticationFailed(
          run,
          `TLS secret '${run.ref.namespace}/${spec.certSecretRef.name}' has no 'ca.crt' key`,
        );
      location.ca = ca;
    }
    if (spec.proxySecretRef) {
      const data = await sourceSecretData(this.deps.store, run, spec.proxySecretRef.name, 'proxy');
      location.proxyUrl = proxyUrlFrom(data, run, spec.proxySecretRef.name);
    }
    return location;
  }

  /** A failed bucket operation: FetchFailed with AuthenticationFailed or BucketOperationFailed, typed. */
  private fetchFailed(run: Run, error: unknown): never {
    const reason =
      error instanceof BucketError && error.isAuthentication
        ? Reasons.AuthenticationFailed
        : Reasons.BucketOperationFailed;
    const message = errorMessage(error);
    run.conditions.mark(Conditions.FetchFailed, 'True', reason, message);
    if (error instanceof TypeError && /endpoint|Invalid/i.test(message))
      throw new StallingError(Reasons.URLInvalid, message, { cause: error });
    throw new ReconcileError(reason, message, { cause: error });
  }
}
