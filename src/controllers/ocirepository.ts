import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Conditions, Reasons } from '../api/conditions.ts';
import { parseDuration } from '../api/duration.ts';
import type { Artifact } from '../api/gitrepository.ts';
import type { ObjectRef } from '../api/meta.ts';
import {
  DEFAULT_OCI_TAG,
  DEFAULT_OCI_TIMEOUT,
  OCILayerCopy,
  OCIRepositoryKind,
  type OCILayerSelector,
  type OCIRepository,
} from '../api/ocirepository.ts';
import { ReconcileError, StallingError, errorMessage } from '../runtime/errors.ts';
import type { EventRecorder } from '../runtime/event-recorder.ts';
import type { EngineMetrics } from '../runtime/metrics.ts';
import type { ReconcileContext, ReconcileResult, Reconciler } from '../runtime/reconciler.ts';
import type { ArtifactStorage } from '../source/artifact/index.ts';
import {
  OciError,
  OciReferenceError,
  RegistryClient,
  RevisionAnnotation,
  SourceAnnotation,
  extractLayer,
  fetchImageManifest,
  parseOciUrl,
  selectLayer,
  type OciArtifactAddress,
} from '../source/oci/index.ts';
import { SemverTagError, highestSemverTag } from '../source/oci/semver-tag.ts';
import type { Store } from '../store/store.ts';
import { registryAccess } from './oci-registry-access.ts';
import {
  SOURCE_CONTROLLER,
  SOURCE_READY_SUMMARY,
  SourceRun,
  recordSourceEvents,
  refreshStoredArtifact,
  timedOperation,
} from './source-run.ts';

export interface OCIRepositoryReconcilerDeps {
  store: Store;
  storage: ArtifactStorage;
  events: EventRecorder;
  metrics: EngineMetrics;
  /** Artifacts kept besides the current one (`--artifact-retention`). */
  retainArtifacts: number;
  /** Scratch space for downloads (the engine's `<data-dir>/tmp`). Default: the OS temp dir. */
  scratchDir?: string;
}

type Run = SourceRun<OCIRepository>;

/** What the spec's `ref` resolved to: the tag (none for a digest pin) and the revision Flux writes. */
interface ResolvedRevision {
  tag?: string;
  digest: string;
  /** `<tag>@sha256:<hex>`, or `sha256:<hex>` for a digest pin. */
  revision: string;
}

/**
 * Reconciles `source.toolkit.fluxcd.io/v1` OCIRepository as Flux's source-controller does: pick the reference
 * (digest > semver > tag > `latest`), HEAD its manifest for the digest (the cheap check: nothing is pulled
 * while the revision and the content settings are unchanged), pull the selected layer with its digest verified,
 * and store it extracted (re-packed with `.sourceignore` and `spec.ignore`) or copied as it is. A failure
 * keeps the last good artifact.
 */
export class OCIRepositoryReconciler implements Reconciler {
  readonly kind = OCIRepositoryKind;
  readonly controllerName = SOURCE_CONTROLLER;

  constructor(private readonly deps: OCIRepositoryReconcilerDeps) {}

  async reconcile(ref: ObjectRef, context: ReconcileContext): Promise<ReconcileResult> {
    const object = (await this.deps.store.get(ref)) as OCIRepository | undefined;
    if (!object) {
      await this.deps.storage.removeAll(OCIRepositoryKind, ref.namespace, ref.name);
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
    this.refuseUnsupported(run);
    let address: OciArtifactAddress;
    try {
      address = parseOciUrl(spec.url, { allowReference: false });
    } catch (error) {
      if (!(error instanceof OciReferenceError)) throw error;
      throw this.failed(
        run,
        Reasons.URLInvalid,
        `URL validation failed for '${spec.url}': ${error.message}`,
        error,
        true,
      );
    }
    const access = await registryAccess(this.deps.store, run, spec, address.registry);
    const timeout = spec.timeout ?? DEFAULT_OCI_TIMEOUT;
    const signal = AbortSignal.any([AbortSignal.timeout(parseDuration(timeout)), run.context.signal]);
    const client = new RegistryClient(address.registry, { ...access, signal });
    try {
      const resolved = await this.resolveRevision(run, client, address);
      await this.fetchAndStore(run, client, address, resolved);
    } finally {
      client.close();
    }
  }

  /** Cloud identities and signature verification need services Kedge does not have: say so on the object. */
  private refuseUnsupported(run: Run): void {
    const spec = run.object.spec!;
    const problems: string[] = [];
    if (spec.provider && spec.provider !== 'generic')
      problems.push(
        `provider '${spec.provider}' (${spec.provider} workload identity) is not supported by Kedge: use provider: generic with a docker config Secret in secretRef`,
      );
    if (spec.serviceAccountName)
      problems.push(
        'serviceAccountName (image pull secrets of a service account) is not supported by Kedge: use secretRef',
      );
    if (spec.verify)
      problems.push(
        `verify (${spec.verify.provider} signature verification) is not supported by Kedge yet: remove spec.verify`,
      );
    if (problems.length > 0)
      throw this.failed(run, Reasons.InvalidSpec, problems.join('; '), undefined, true);
  }

  /** The reference to pull (Flux's precedence: digest > semver > tag > `latest`) and the revision it is. */
  private async resolveRevision(
    run: Run,
    client: RegistryClient,
    address: OciArtifactAddress,
  ): Promise<ResolvedRevision> {
    const spec = run.object.spec!;
    const ref = spec.ref ?? {};
    const where = `${address.registry}/${address.repository}`;
    if (ref.digest) return { digest: ref.digest, revision: ref.digest };
    let tag = ref.tag || DEFAULT_OCI_TAG;
    if (ref.semver) {
      const tags = await timedOperation(this.deps.metrics.ociFetchDuration, 'list', () =>
        client.listTags(address.repository),
      ).catch((error: unknown) => {
        throw this.failed(
          run,
          Reasons.ReadOperationFailed,
          `failed to determine the artifact tag for '${spec.url}': ${errorMessage(error)}`,
          error,
        );
      });
      let chosen: string | undefined;
      try {
        chosen = highestSemverTag(ref.semver, tags, {
          filter: ref.semverFilter,
          layerMediaType: spec.layerSelector?.mediaType,
        });
      } catch (error) {
        if (!(error instanceof SemverTagError)) throw error;
        throw this.failed(
          run,
          Reasons.ReadOperationFailed,
          `failed to determine the artifact tag for '${spec.url}': ${error.message}`,
          error,
          true,
        );
      }
      if (!chosen)
        throw this.failed(
          run,
          Reasons.ReadOperationFailed,
          `failed to determine the artifact tag for '${spec.url}': no match found for semver: ${ref.semver}${ref.semverFilter ? ` (semverFilter '${ref.semverFilter}')` : ''} among ${tags.length} tag(s) of ${where}`,
        );
      tag = chosen;
    }
    const descriptor = await timedOperation(this.deps.metrics.ociFetchDuration, 'resolve', () =>
      client.resolve(address.repository, tag),
    ).catch((error: unknown) => {
      const detail =
        error instanceof OciError && error.isNotFound
          ? `tag '${tag}' not found in ${where}: push it, or point spec.ref at a tag that exists`
          : errorMessage(error);
      throw this.failed(
        run,
        Reasons.OCIArtifactPullFailed,
        `failed to determine artifact digest: ${detail}`,
        error,
      );
    });
    return { tag, digest: descriptor.digest, revision: `${tag}@${descriptor.digest}` };
  }

  /** When the revision or the content settings moved (or there is no artifact yet): pull and store. */
  private async fetchAndStore(
    run: Run,
    client: RegistryClient,
    address: OciArtifactAddress,
    resolved: ResolvedRevision,
  ): Promise<void> {
    const spec = run.object.spec!;
    const current = run.status.artifact;
    if (current?.revision === resolved.revision && !contentConfigChanged(run.object)) {
      run.conditions.delete(Conditions.FetchFailed);
      run.conditions.delete(Conditions.ArtifactOutdated);
      run.context.log.debug({ revision: resolved.revision }, 'artifact unchanged, pull skipped');
      return;
    }
    if (current && current.revision !== resolved.revision)
      run.conditions.mark(
        Conditions.ArtifactOutdated,
        'True',
        Reasons.NewRevision,
        `new revision '${resolved.revision}' for '${spec.url}'`,
      );
    const dir = await mkdtemp(join(this.deps.scratchDir ?? tmpdir(), 'kedge-oci-'));
    try {
      const pulled = await timedOperation(this.deps.metrics.ociFetchDuration, 'pull', () =>
        this.pullLayer(run, client, address, resolved, dir),
      );
      run.conditions.delete(Conditions.FetchFailed);
      await this.reconcileArtifact(run, resolved, pulled);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Downloads the selected layer (digest verified) into `dir` and extracts it unless the operation is copy. */
  private async pullLayer(
    run: Run,
    client: RegistryClient,
    address: OciArtifactAddress,
    resolved: ResolvedRevision,
    dir: string,
  ): Promise<{ layerFile: string; contentDir: string; annotations: Record<string, string> }> {
    const spec = run.object.spec!;
    const pullFailed = (error: unknown) =>
      this.failed(
        run,
        Reasons.OCIArtifactPullFailed,
        `failed to pull artifact from '${spec.url}': ${errorMessage(error)}`,
        error,
      );
    const layerFailed = (error: unknown) =>
      this.failed(run, Reasons.OCIArtifactLayerOperationFailed, errorMessage(error), error);
    const { manifest } = await fetchImageManifest(client, address.repository, resolved.digest).catch(
      (error: unknown) => {
        throw error instanceof OciError ? pullFailed(error) : layerFailed(error);
      },
    );
    let layer;
    try {
      layer = selectLayer(manifest, spec.layerSelector?.mediaType);
    } catch (error) {
      throw layerFailed(error);
    }
    const layerFile = join(dir, 'layer');
    await client.downloadBlob(address.repository, layer, layerFile).catch((error: unknown) => {
      throw pullFailed(error);
    });
    const contentDir = join(dir, 'content');
    if (spec.layerSelector?.operation !== OCILayerCopy) {
      await mkdir(contentDir);
      await extractLayer(layerFile, contentDir).catch((error: unknown) => {
        throw layerFailed(
          new Error(`failed to extract layer contents from artifact: ${errorMessage(error)}`),
        );
      });
    }
    return { layerFile, contentDir, annotations: manifest.annotations ?? {} };
  }

  /** Store the artifact (packed from the extracted layer, or the layer as it is), record it, collect old ones. */
  private async reconcileArtifact(
    run: Run,
    resolved: ResolvedRevision,
    pulled: { layerFile: string; contentDir: string; annotations: Record<string, string> },
  ): Promise<void> {
    const spec = run.object.spec!;
    const { storage } = this.deps;
    const { namespace, name } = run.ref;
    let artifact: Artifact;
    try {
      artifact =
        spec.layerSelector?.operation === OCILayerCopy
          ? await storage.storeFile(OCIRepositoryKind, namespace, name, resolved.revision, pulled.layerFile)
          : await storage.archive(OCIRepositoryKind, namespace, name, resolved.revision, pulled.contentDir, {
              ...(spec.ignore !== undefined ? { ignore: spec.ignore } : {}),
              noDefaultPatterns: true,
            });
    } catch (error) {
      const message = `unable to archive artifact to storage: ${errorMessage(error)}`;
      run.conditions.mark(Conditions.StorageOperationFailed, 'True', Reasons.ArchiveOperationFailed, message);
      throw new ReconcileError(Reasons.ArchiveOperationFailed, message, { cause: error });
    }
    if (Object.keys(pulled.annotations).length > 0) artifact.metadata = pulled.annotations;
    run.conditions.delete(Conditions.StorageOperationFailed);
    run.conditions.delete(Conditions.ArtifactOutdated);
    run.conditions.mark(
      Conditions.ArtifactInStorage,
      'True',
      Reasons.Succeeded,
      `stored artifact for digest '${resolved.revision}'`,
    );
    const previous = run.status.artifact;
    run.status.artifact = artifact;
    run.status.url = artifact.url;
    if (spec.ignore !== undefined) run.status.observedIgnore = spec.ignore;
    else delete run.status.observedIgnore;
    if (spec.layerSelector) run.status.observedLayerSelector = { ...spec.layerSelector };
    else delete run.status.observedLayerSelector;
    if (previous?.digest !== artifact.digest) {
      const origin = pulled.annotations[SourceAnnotation];
      const originRevision = pulled.annotations[RevisionAnnotation];
      run.newArtifact = {
        artifact,
        message:
          `stored artifact with revision '${resolved.revision}' from '${spec.url}'` +
          (origin && originRevision
            ? `, origin source '${origin}', origin revision '${originRevision}'`
            : ''),
      };
    }
    await storage
      .garbageCollect(OCIRepositoryKind, namespace, name, [artifact.path], this.deps.retainArtifacts)
      .catch((error: unknown) => run.context.log.warn({ err: error }, 'artifact garbage collection failed'));
  }

  /** FetchFailed=True with `reason`; a stalling error when retrying cannot help until the spec changes. */
  private failed(
    run: Run,
    reason: string,
    message: string,
    cause?: unknown,
    stalling = false,
  ): ReconcileError {
    run.conditions.mark(Conditions.FetchFailed, 'True', reason, message);
    return stalling
      ? new StallingError(reason, message, { cause })
      : new ReconcileError(reason, message, { cause });
  }
}

/** Normalised layer selector: what `status.observedLayerSelector` is compared by. */
function selectorKey(selector: OCILayerSelector | undefined): string {
  return selector === undefined ? '' : JSON.stringify([selector.mediaType ?? '', selector.operation ?? '']);
}

/** Whether `spec.ignore` or `spec.layerSelector` changed since the artifact was built (Flux rebuilds then). */
function contentConfigChanged(object: OCIRepository): boolean {
  const spec = object.spec!;
  const status = object.status ?? {};
  return (
    spec.ignore !== status.observedIgnore ||
    selectorKey(spec.layerSelector) !== selectorKey(status.observedLayerSelector)
  );
}
