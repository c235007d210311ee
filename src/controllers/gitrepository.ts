import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Conditions, Reasons } from '../api/conditions.ts';
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
import {
  ACCESS_TOKEN_USERNAME,
  gitHubAppData,
  gitHubAppToken,
  type GitHubAppData,
} from '../source/git/github-app.ts';
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

export interface GitRepositoryReconcilerDeps {
  store: Store;
  storage: ArtifactStorage;
  events: EventRecorder;
  metrics: EngineMetrics;
  /** Artifacts kept besides the current one (`--artifact-retention`). */
  retainArtifacts: number;
  /** Artifact paths of this source that history or a held rollback refers to: never garbage collected. */
  retainedArtifacts?: (source: ObjectRef) => Promise<string[]>;
  /** Scratch space for checkouts and git homes (the engine's `<data-dir>/tmp`). Default: the OS temp dir. */
  scratchDir?: string;
}

/** Everything one reconcile of one GitRepository works on. */
type Run = SourceRun<GitRepository>;

/**
 * Reconciles `source.toolkit.fluxcd.io/v1` GitRepository as Flux's source-controller does: resolve the
 * remote ref (cheap `ls-remote`, skipping the fetch when nothing moved), check out, verify, include other
 * sources, pack an immutable artifact and record it in status. A failure keeps the last good artifact.
 */
export class GitRepositoryReconciler implements Reconciler {
  readonly kind = GitRepositoryKind;
  readonly controllerName = SOURCE_CONTROLLER;
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
    const run: Run = new SourceRun(this.deps.store, ref, object, context);
    await run.markProgressing();

    let outcome: unknown;
    try {
      await refreshStoredArtifact(this.deps.storage, run);
      await this.reconcileSource(run);
    } catch (error) {
      outcome = error;
    }
    await run.finish(SOURCE_READY_SUMMARY, outcome);
    await recordSourceEvents(this.deps.events, run, outcome);
    if (outcome !== undefined) throw outcome instanceof Error ? outcome : new Error(errorMessage(outcome));
    return { requeueAfterMs: parseDuration(object.spec!.interval) };
  }

  /** Resolve the remote, fetch and verify when it moved, then build the artifact. */
  private async reconcileSource(run: Run): Promise<void> {
    const spec = run.object.spec!;
    const timeoutMs = parseDuration(spec.timeout ?? DEFAULT_GIT_TIMEOUT);
    const proxyUrl = await this.proxyUrl(run);
    const creds = await this.credentials(run, proxyUrl);
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
    const keys = Object.values(
      await sourceSecretData(this.deps.store, run, verify.secretRef.name, 'verification keys'),
    );
    try {
      const result = await verifyCheckout(
        dir,
        fetched,
        verify.mode === undefined || verify.mode === 'head' ? 'HEAD' : verify.mode,
        keys,
        this.deps.scratchDir,
      );
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
    // What history refers to stays; when that cannot be read, nothing is collected this time.
    await retainedPaths(this.deps.retainedArtifacts, run.ref)
      .then((retained) =>
        storage.garbageCollect(
          GitRepositoryKind,
          run.ref.namespace,
          run.ref.name,
          [artifact.path, ...retained],
          this.deps.retainArtifacts,
        ),
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

  /**
   * The Secret's credentials; with `provider: github`, an installation token of the GitHub App the Secret
   * describes (user `x-access-token`), as Flux does.
   */
  private async credentials(run: Run, proxyUrl: string | undefined): Promise<GitCredentials> {
    const spec = run.object.spec!;
    const secretRef = spec.secretRef;
    if (!secretRef) {
      if (spec.provider === 'github')
        throw this.invalidProvider(
          run,
          'secretRef with github app data must be specified when provider is set to github',
          true,
        );
      return {};
    }
    const data = await sourceSecretData(this.deps.store, run, secretRef.name, 'credentials');
    const creds = credentialsFromSecret(data);
    let app: GitHubAppData | undefined;
    try {
      app = gitHubAppData(data);
    } catch (error) {
      throw this.invalidProvider(
        run,
        `secret '${run.ref.namespace}/${secretRef.name}': ${errorMessage(error)}`,
      );
    }
    if (spec.provider !== 'github') {
      if (app)
        throw this.invalidProvider(
          run,
          `secretRef '${run.ref.namespace}/${secretRef.name}' has github app data but provider is not set to github`,
        );
      return creds;
    }
    if (!app)
      throw this.invalidProvider(
        run,
        'secretRef with github app data must be specified when provider is set to github',
      );
    const timeoutMs = parseDuration(spec.timeout ?? DEFAULT_GIT_TIMEOUT);
    try {
      const token = await gitHubAppToken(app, {
        caPem: creds.caPem,
        proxyUrl,
        timeoutMs,
        signal: run.context.signal,
      });
      return {
        ...(creds.caPem ? { caPem: creds.caPem } : {}),
        username: ACCESS_TOKEN_USERNAME,
        password: token,
      };
    } catch (error) {
      throw authenticationFailed(run, `failed to configure authentication options: ${errorMessage(error)}`);
    }
  }

  /**
   * Flux's InvalidProviderConfiguration: the Secret and `provider` do not fit. Retried (the Secret may be fixed),
   * except when the spec itself lacks what the provider needs: that waits for the spec to change.
   */
  private invalidProvider(run: Run, message: string, specProblem = false): ReconcileError {
    run.conditions.mark(Conditions.FetchFailed, 'True', 'InvalidProviderConfiguration', message);
    return specProblem
      ? new StallingError('InvalidProviderConfiguration', message)
      : new ReconcileError('InvalidProviderConfiguration', message);
  }

  private async proxyUrl(run: Run): Promise<string | undefined> {
    const ref = run.object.spec!.proxySecretRef;
    if (!ref) return undefined;
    return proxyUrlFrom(await sourceSecretData(this.deps.store, run, ref.name, 'proxy'), run, ref.name);
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

  private timed<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    return timedOperation(this.deps.metrics.gitFetchDuration, operation, fn);
  }
}
