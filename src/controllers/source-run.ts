import type { Histogram } from 'prom-client';
import { Conditions, Reasons } from '../api/conditions.ts';
import { secretValues } from '../api/core.ts';
import type { Artifact } from '../api/gitrepository.ts';
import type { Condition, KObject, ObjectRef } from '../api/meta.ts';
import { ReconcileError } from '../runtime/errors.ts';
import type { EventRecorder } from '../runtime/event-recorder.ts';
import { ReconcileRun } from '../runtime/reconcile-run.ts';
import type { ReconcileContext } from '../runtime/reconciler.ts';
import type { Store } from '../store/store.ts';
import type { ArtifactStorage } from '../source/artifact/index.ts';

/*
 * What every source-controller kind (GitRepository, Bucket) does the same way around its own fetch: the
 * Ready summary, the stored artifact check, Secret lookups, timing metrics and events.
 */

export const SOURCE_CONTROLLER = 'source-controller';
const REVISION_ANNOTATION = 'source.toolkit.fluxcd.io/revision';

/** How a source's owned conditions make Ready (source-controller's summary). */
export const SOURCE_READY_SUMMARY = {
  negative: [Conditions.StorageOperationFailed, Conditions.FetchFailed, Conditions.ArtifactOutdated],
  positive: [Conditions.ArtifactInStorage],
} as const;

type SourceStatus = {
  conditions?: Condition[];
  artifact?: Artifact;
  observedGeneration?: number;
  lastHandledReconcileAt?: string;
};
type SourceObject = KObject<unknown, SourceStatus>;

/** One reconcile of a source: the run plus the artifact it stored, if new. */
export class SourceRun<T extends SourceObject> extends ReconcileRun<T> {
  /** Set when a new artifact was stored in this run. */
  newArtifact?: { artifact: Artifact; message: string };

  constructor(
    store: Store,
    ref: ObjectRef,
    object: T,
    readonly context: ReconcileContext,
  ) {
    super(store, ref, object);
  }
}

/**
 * The artifact in status must still be in storage (forgotten, with ArtifactInStorage=False, if not) and carry
 * the artifact server's current address (it may listen elsewhere since the last run, e.g. port 0).
 */
export async function refreshStoredArtifact<T extends SourceObject>(
  storage: ArtifactStorage,
  run: SourceRun<T>,
): Promise<void> {
  const artifact = run.status.artifact;
  if (!artifact) return;
  if (!(await storage.exists(artifact))) {
    delete run.status.artifact;
    run.conditions.mark(
      Conditions.ArtifactInStorage,
      'False',
      Reasons.StorageOperationFailed,
      'artifact disappeared from storage',
    );
    return;
  }
  run.status.artifact = {
    ...artifact,
    url: storage.artifactFor(artifact.path, artifact.revision, {
      digest: artifact.digest,
      size: artifact.size ?? 0,
    }).url,
  };
}

/** FetchFailed=True with AuthenticationFailed: a Secret is missing or lacks what the source needs. */
export function authenticationFailed<T extends SourceObject>(
  run: SourceRun<T>,
  message: string,
): ReconcileError {
  run.conditions.mark(Conditions.FetchFailed, 'True', Reasons.AuthenticationFailed, message);
  return new ReconcileError(Reasons.AuthenticationFailed, message);
}

/** The data of a Secret in the source's namespace, or AuthenticationFailed naming it and what it was for. */
export async function sourceSecretData<T extends SourceObject>(
  store: Store,
  run: SourceRun<T>,
  name: string,
  purpose: string,
): Promise<Record<string, string>> {
  const namespace = run.ref.namespace;
  const secret = await store.get({ kind: 'Secret', namespace, name });
  if (!secret)
    throw authenticationFailed(run, `failed to get ${purpose} secret '${namespace}/${name}': not found`);
  return secretValues(secret);
}

/** The proxy URL of a `proxySecretRef` Secret (`address`, optional `username`/`password`). */
export function proxyUrlFrom<T extends SourceObject>(
  data: Record<string, string>,
  run: SourceRun<T>,
  secretName: string,
): string {
  if (!data.address)
    throw authenticationFailed(run, `proxy secret '${run.ref.namespace}/${secretName}' has no 'address' key`);
  const url = new URL(data.address);
  if (data.username) url.username = encodeURIComponent(data.username);
  if (data.password) url.password = encodeURIComponent(data.password);
  return url.toString();
}

/** Runs `fn` and observes its duration in `histogram` by operation and result. */
export async function timedOperation<T>(
  histogram: Histogram<'operation' | 'result'>,
  operation: string,
  fn: () => Promise<T>,
): Promise<T> {
  const end = histogram.startTimer({ operation });
  try {
    const value = await fn();
    end({ result: 'success' });
    return value;
  } catch (error) {
    end({ result: 'error' });
    throw error;
  }
}

/** NewArtifact, a warning on failure, and Succeeded when Ready recovers without a new artifact. */
export async function recordSourceEvents<T extends SourceObject>(
  events: EventRecorder,
  run: SourceRun<T>,
  outcome: unknown,
): Promise<void> {
  const annotations = (revision?: string) => (revision ? { [REVISION_ANNOTATION]: revision } : undefined);
  if (run.newArtifact) {
    await events.record(run.object, 'Normal', 'NewArtifact', run.newArtifact.message, {
      controller: SOURCE_CONTROLLER,
      annotations: annotations(run.newArtifact.artifact.revision),
    });
  }
  const ready = run.conditions.get(Conditions.Ready)!;
  if (outcome !== undefined) {
    await events.record(run.object, 'Warning', ready.reason, ready.message, {
      controller: SOURCE_CONTROLLER,
      annotations: annotations(run.status.artifact?.revision),
    });
  } else if (run.readyBefore === 'False' && !run.newArtifact) {
    await events.record(run.object, 'Normal', Reasons.Succeeded, ready.message, {
      controller: SOURCE_CONTROLLER,
      annotations: annotations(run.status.artifact?.revision),
    });
  }
}

/** The artifact paths of `ref` that history or a held rollback refers to (none without a lookup). */
export async function retainedPaths(
  lookup: ((source: ObjectRef) => Promise<string[]>) | undefined,
  ref: ObjectRef,
): Promise<string[]> {
  return lookup ? lookup(ref) : [];
}
