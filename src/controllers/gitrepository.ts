import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Conditions, Reasons } from '../api/conditions.ts';
import { secretValues } from '../api/core.ts';
import { parseDuration } from '../api/duration.ts';
import {
  DEFAULT_GIT_TIMEOUT,
  GitRepositoryKind,
  type Artifact,
  type GitRepository,
} from '../api/gitrepository.ts';
import type { ObjectRef } from '../api/meta.ts';
import { ReconcileError, StallingError, errorMessage } from '../runtime/errors.ts';
import type { EventRecorder } from '../runtime/event-recorder.ts';
import type { EngineMetrics } from '../runtime/metrics.ts';
import type { ReconcileContext, ReconcileResult, Reconciler, RelatedWatch } from '../runtime/reconciler.ts';
import { ReconcileRun } from '../runtime/reconcile-run.ts';
import { referrersWatch } from '../runtime/referrers-watch.ts';
import { copyIncludedArtifact } from '../source/artifact/copy-included-artifact.ts';
import type { ArtifactStorage } from '../source/artifact/index.ts';
import {
  GitError,
  checkout,
  credentialsFromSecret,
  resolveRemote,
  verifyCheckout,
  type GitCredentials,
  type ResolvedRevision,
} from '../source/git/index.ts';
import type { Store } from '../store/store.ts';

const CONTROLLER = 'source-controller';
const REVISION_ANNOTATION = 'source.toolkit.fluxcd.io/revision';

/** Conditions this reconciler owns, and how they make Ready (source-controller's summary). */
const READY_SUMMARY = {
  negative: [Conditions.StorageOperationFailed, Conditions.FetchFailed, Conditions.ArtifactOutdated],
  positive: [Conditions.ArtifactInStorage],
} as const;

export interface GitRepositoryReconcilerDeps {
  store: Store;
  storage: ArtifactStorage;
  events: EventRecorder;
  metrics: EngineMetrics;
  /** Artifacts kept besides the current one (`--artifact-retention`). */
  retainArtifacts: number;
  /** Scratch space for checkouts and git homes (the engine's `<data-dir>/tmp`). Default: the OS temp dir. */
  scratchDir?: string;
}

/** Everything one reconcile of one GitRepository works on. */
class Run extends ReconcileRun<GitRepository> {
  /** Set when a new artifact was stored in this run. */
  newArtifact?: { artifact: Artifact; message: string };

  constructor(
    store: Store,
    ref: ObjectRef,
    object: GitRepository,
    readonly context: ReconcileContext,
  ) {
    super(store, ref, object);
  }
}

/**
 * Reconciles `source.toolkit.fluxcd.io/v1` GitRepository as Flux's source-controller does: resolve the
 * remote ref (cheap `ls-remote`, skipping the fetch when nothing moved), check out, verify, include other
 * sources, pack an immutable artifact and record it in status. A failure keeps the last good artifact.
 */
export class GitRepositoryReconciler implements Reconciler {
  readonly kind = GitRepositoryKind;
  readonly controllerName = CONTROLLER;
  readonly watches: RelatedWatch[];

  constructor(private readonly deps: GitRepositoryReconcilerDeps) {
    // A repository that includes another must rebuild when the included one gets a new artifact.
    const includes = (r: GitRepository, name: string) =>
      r.spec?.include?.some((i) => i.repository.name === name) === true;
    this.watches = [
      referrersWatch<GitRepository>(deps.store, GitRepositoryKind, GitRepositoryKind, includes),
    ];
  }

  async reconcile(ref: ObjectRef, context: ReconcileContext): Promise<ReconcileResult> {
    const object = (await this.deps.store.get(ref)) as GitRepository | undefined;
    // Deleted: its artifacts go with it.
    if (!object) {
      await this.deps.storage.removeAll(GitRepositoryKind, ref.namespace, ref.name);
      return {};
    }
    const run = new Run(this.deps.store, ref, object, context);
    await run.markProgressing();

    let outcome: unknown;
    try {
      await this.reconcileStorage(run);
      await this.reconcileSource(run);
    } catch (error) {
      outcome = error;
    }
    await run.finish(READY_SUMMARY, outcome);
    await this.recordEvents(run, outcome);
    if (outcome !== undefined) throw outcome instanceof Error ? outcome : new Error(errorMessage(outcome));
    return { requeueAfterMs: parseDuration(object.spec!.interval) };
  }

  /** Check that the artifact in status is still in storage (forget it if not) and that its URL is current. */
  private async reconcileStorage(run: Run): Promise<void> {
    const artifact = run.status.artifact;
    if (!artifact) return;
    if (!(await this.deps.storage.exists(artifact))) {
      delete run.status.artifact;
      run.conditions.mark(
        Conditions.ArtifactInStorage,
        'False',
        Reasons.StorageOperationFailed,
        'artifact disappeared from storage',
      );
      return;
    }
    // The artifact server may listen elsewhere since the last run (e.g. port 0): keep the URL reachable.
    run.status.artifact = {
      ...artifact,
      url: this.deps.storage.artifactFor(artifact.path, artifact.revision, {
        digest: artifact.digest,
        size: artifact.size ?? 0,
      }).url,
    };
  }

  /** Resolve the remote, fetch and verify when it moved, then build the artifact. */
  private async reconcileSource(run: Run): Promise<void> {
    const spec = run.object.spec!;
    const timeoutMs = parseDuration(spec.timeout ?? DEFAULT_GIT_TIMEOUT);
    const creds = await this.credentials(run);
    const proxyUrl = await this.proxyUrl(run);
    const tmpRoot = this.deps.scratchDir ?? tmpdir();
    const options = { timeoutMs, proxyUrl, signal: run.context.signal, tmpRoot };

    // A first sync or a changed spec fetches whatever the remote says: no ls-remote before it.
    const mustFetch =
      !run.status.artifact || run.status.observedGeneration !== run.object.metadata.generation;
    const remote = mustFetch
      ? undefined
      : await this.timed('ls-remote', () => resolveRemote(spec.url, spec.ref ?? {}, creds, options)).catch(
          (error: unknown) => this.fetchFailed(run, error),
        );
    const included = await this.includedArtifacts(run);
    if (remote && this.upToDate(run, remote, included)) {
      run.conditions.delete(Conditions.FetchFailed);
      run.conditions.delete(Conditions.ArtifactOutdated);
      run.context.log.debug({ revision: remote.revision }, 'remote unchanged, fetch skipped');
      return;
    }
    if (remote) this.markOutdated(run, remote);

    const dir = await mkdtemp(join(tmpRoot, 'kedge-checkout-'));
    try {
      const fetched = await this.timed('checkout', () =>
        checkout(spec.url, spec.ref ?? {}, creds, dir, {
          ...options,
          recurseSubmodules: spec.recurseSubmodules,
        }),
      ).catch((error: unknown) => this.fetchFailed(run, error));
      run.conditions.delete(Conditions.FetchFailed);
      if (!remote) this.markOutdated(run, fetched);
      await this.reconcileVerification(run, dir, fetched);
      for (const [i, include] of (spec.include ?? []).entries()) {
        await copyIncludedArtifact(
          this.deps.storage,
          included[i]!,
          dir,
          include.fromPath,
          include.toPath ?? include.repository.name,
          tmpRoot,
        );
      }
      await this.reconcileArtifact(run, dir, fetched, included);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private markOutdated(run: Run, remote: ResolvedRevision): void {
    if (run.status.artifact?.revision !== remote.revision) {
      run.conditions.mark(
        Conditions.ArtifactOutdated,
        'True',
        Reasons.NewRevision,
        `new upstream revision '${remote.revision}'`,
      );
    }
  }

  /** Verify the OpenPGP signature of the commit and/or tag when `spec.verify` asks for it. */
  private async reconcileVerification(run: Run, dir: string, fetched: ResolvedRevision): Promise<void> {
    const verify = run.object.spec!.verify;
    if (!verify) {
      run.conditions.delete(Conditions.SourceVerified);
      return;
    }
    const keys = Object.values(await this.secretData(run, verify.secretRef.name, 'verification keys'));
    try {
      const result = await verifyCheckout(dir, fetched, verify.mode ?? 'HEAD', keys, this.deps.scratchDir);
      run.conditions.mark(Conditions.SourceVerified, 'True', Reasons.Succeeded, result.message);
    } catch (error) {
      const message = errorMessage(error);
      run.conditions.mark(Conditions.SourceVerified, 'False', Reasons.VerificationError, message);
      throw new ReconcileError(Reasons.VerificationError, message, { cause: error });
    }
  }

  /** Pack the checkout, store it, record it in status and collect old artifacts. */
  private async reconcileArtifact(
    run: Run,
    dir: string,
    fetched: ResolvedRevision & { commitMessage?: string },
    included: Artifact[],
  ): Promise<void> {
    const spec = run.object.spec!;
    const { storage } = this.deps;
    let artifact: Artifact;
    try {
      artifact = await storage.archive(
        GitRepositoryKind,
        run.ref.namespace,
        run.ref.name,
        fetched.revision,
        dir,
        { ignore: spec.ignore },
      );
    } catch (error) {
      const message = `failed to archive revision '${fetched.revision}': ${errorMessage(error)}`;
      run.conditions.mark(Conditions.StorageOperationFailed, 'True', Reasons.ArchiveOperationFailed, message);
      throw new ReconcileError(Reasons.ArchiveOperationFailed, message, { cause: error });
    }
    run.conditions.delete(Conditions.StorageOperationFailed);
    run.conditions.delete(Conditions.ArtifactOutdated);
    const message = `stored artifact for revision '${fetched.revision}'`;
    run.conditions.mark(Conditions.ArtifactInStorage, 'True', Reasons.Succeeded, message);
    const previous = run.status.artifact;
    run.status.artifact = artifact;
    run.status.includedArtifacts = included.length > 0 ? included : undefined;
    run.status.observedIgnore = spec.ignore;
    run.status.observedRecurseSubmodules = spec.recurseSubmodules;
    run.status.observedInclude = spec.include;
    if (previous?.revision !== artifact.revision || previous.digest !== artifact.digest) {
      const subject = fetched.commitMessage?.split('\n')[0]?.trim();
      run.newArtifact = { artifact, message: subject ? `stored artifact for commit '${subject}'` : message };
    }
    await storage
      .garbageCollect(
        GitRepositoryKind,
        run.ref.namespace,
        run.ref.name,
        [artifact.path],
        this.deps.retainArtifacts,
      )
      .catch((error: unknown) => run.context.log.warn({ err: error }, 'artifact garbage collection failed'));
  }

  /** Nothing to do when the remote, the spec and every included artifact are what the stored artifact was built from. */
  private upToDate(run: Run, remote: ResolvedRevision, included: Artifact[]): boolean {
    const { status, object } = run;
    if (!status.artifact || status.artifact.revision !== remote.revision) return false;
    if (status.observedGeneration !== object.metadata.generation) return false;
    const before = (status.includedArtifacts ?? []).map((a) => a.digest).join(',');
    return before === included.map((a) => a.digest).join(',');
  }

  private async includedArtifacts(run: Run): Promise<Artifact[]> {
    const artifacts: Artifact[] = [];
    for (const include of run.object.spec!.include ?? []) {
      const ref = { kind: GitRepositoryKind, namespace: run.ref.namespace, name: include.repository.name };
      const source = (await this.deps.store.get(ref)) as GitRepository | undefined;
      if (!source?.status?.artifact) {
        const message = `included GitRepository '${ref.namespace}/${ref.name}' has no artifact yet`;
        run.conditions.mark(Conditions.FetchFailed, 'True', 'IncludeUnavailable', message);
        throw new ReconcileError('IncludeUnavailable', message);
      }
      artifacts.push(source.status.artifact);
    }
    return artifacts;
  }

  private async credentials(run: Run): Promise<GitCredentials> {
    const secretRef = run.object.spec!.secretRef;
    if (!secretRef) return {};
    return credentialsFromSecret(await this.secretData(run, secretRef.name, 'credentials'));
  }

  private async proxyUrl(run: Run): Promise<string | undefined> {
    const ref = run.object.spec!.proxySecretRef;
    if (!ref) return undefined;
    const data = await this.secretData(run, ref.name, 'proxy');
    if (!data.address)
      throw this.authFailed(run, `proxy secret '${run.ref.namespace}/${ref.name}' has no 'address' key`);
    const url = new URL(data.address);
    if (data.username) url.username = encodeURIComponent(data.username);
    if (data.password) url.password = encodeURIComponent(data.password);
    return url.toString();
  }

  private async secretData(run: Run, name: string, purpose: string): Promise<Record<string, string>> {
    const secret = await this.deps.store.get({ kind: 'Secret', namespace: run.ref.namespace, name });
    if (!secret)
      throw this.authFailed(run, `failed to get ${purpose} secret '${run.ref.namespace}/${name}': not found`);
    return secretValues(secret);
  }

  private authFailed(run: Run, message: string): ReconcileError {
    run.conditions.mark(Conditions.FetchFailed, 'True', Reasons.AuthenticationFailed, message);
    return new ReconcileError(Reasons.AuthenticationFailed, message);
  }

  /** Records a failed git operation as FetchFailed with the matching reason, and rethrows it typed. */
  private fetchFailed(run: Run, error: unknown): never {
    const code = error instanceof GitError ? error.code : 'failed';
    const reason =
      code === 'auth'
        ? Reasons.AuthenticationFailed
        : code === 'invalid-url'
          ? Reasons.URLInvalid
          : Reasons.GitOperationFailed;
    const message = errorMessage(error);
    run.conditions.mark(Conditions.FetchFailed, 'True', reason, message);
    // A malformed URL or reference will not fix itself: wait for the spec to change.
    if (code === 'invalid-url' || code === 'invalid-ref')
      throw new StallingError(reason, message, { cause: error });
    throw new ReconcileError(reason, message, { cause: error });
  }

  private async timed<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    const end = this.deps.metrics.gitFetchDuration.startTimer({ operation });
    try {
      const value = await fn();
      end({ result: 'success' });
      return value;
    } catch (error) {
      end({ result: 'error' });
      throw error;
    }
  }

  /** Emit NewArtifact, a warning on failure, and Succeeded when Ready recovers. */
  private async recordEvents(run: Run, outcome: unknown): Promise<void> {
    const annotations = (revision?: string) => (revision ? { [REVISION_ANNOTATION]: revision } : undefined);
    const { events } = this.deps;
    if (run.newArtifact) {
      await events.record(run.object, 'Normal', 'NewArtifact', run.newArtifact.message, {
        controller: CONTROLLER,
        annotations: annotations(run.newArtifact.artifact.revision),
      });
    }
    const ready = run.conditions.get(Conditions.Ready)!;
    if (outcome !== undefined) {
      await events.record(run.object, 'Warning', ready.reason, ready.message, {
        controller: CONTROLLER,
        annotations: annotations(run.status.artifact?.revision),
      });
    } else if (run.readyBefore === 'False' && !run.newArtifact) {
      await events.record(run.object, 'Normal', Reasons.Succeeded, ready.message, {
        controller: CONTROLLER,
        annotations: annotations(run.status.artifact?.revision),
      });
    }
  }
}
