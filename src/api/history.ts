/** Default number of history entries kept per object (`--history-limit`). */
export const DEFAULT_HISTORY_LIMIT = 100;
/** How many snapshots Flux's `status.history` keeps (Flux's own limit). */
export const FLUX_HISTORY_LIMIT = 5;

/** The artifact a reconcile used: enough to fetch it again (from storage or its URL) and verify it. */
export interface HistoryArtifact {
  /** Relative to the artifact storage root, e.g. `gitrepository/default/podinfo/<sha>.tar.gz`. */
  path: string;
  url: string;
  /** `sha256:<hex>` of the archive. */
  digest: string;
  revision: string;
}

/** What a reconcile did to its objects, as `Kind/namespace/name` (Flux's change-set subjects). */
export interface InventoryDiff {
  created: string[];
  configured: string[];
  deleted: string[];
}

/**
 * One recorded reconcile of a Kustomization or an App that changed something: a new revision, objects
 * created, configured or deleted, or a result unlike the previous entry's. Kept in the store (newest first,
 * at most `--history-limit` per object).
 */
export interface HistoryEntry {
  /** Opaque, unique per object; assigned by the store. */
  id?: string;
  /** When the reconcile started (RFC 3339 with milliseconds). */
  time: string;
  durationMs: number;
  /** Source revision applied or attempted, e.g. `main@sha1:<hash>`. */
  revision: string;
  /** Artifact digest `sha256:<hex>`. */
  digest?: string;
  artifact?: HistoryArtifact;
  /** `Succeeded` or `Failed`. */
  result: 'Succeeded' | 'Failed';
  /** Ready's reason and message at the end of the reconcile. */
  reason: string;
  message: string;
  changes: InventoryDiff;
  /** Set when the object was held by a rollback at this revision. */
  rolledBack?: boolean;
  /** App only: the release directory key (artifact digest, plus the setup hash) the rollout ended on. */
  releaseKey?: string;
}

/** Flux's `meta.Snapshot` (kustomize-controller v1 `status.history`), newest first. */
export interface FluxSnapshot {
  digest: string;
  firstReconciled: string;
  lastReconciled: string;
  lastReconciledDuration: string;
  lastReconciledStatus: string;
  totalReconciliations: number;
  metadata?: Record<string, string>;
}

/** A held rollback, as kept in the object's `kedge.dev/rollback` annotation (JSON). */
export interface RollbackHold {
  /** The revision applied instead of the source's. */
  revision: string;
  artifact: HistoryArtifact;
  /** The source's revision when the rollback was requested. */
  sourceRevision: string;
  /** Release the hold as soon as the source moves past `sourceRevision`. */
  autoRelease?: boolean;
  /** When the rollback was requested. */
  requestedAt: string;
  /** App only: the release key the App is held at. */
  releaseKey?: string;
}

/** The annotation holding a rollback (JSON of {@link RollbackHold}); its removal ends the hold. */
export const RollbackAnnotation = 'kedge.dev/rollback';
/** Condition type saying an object is held at an earlier revision by a rollback. */
export const RolledBackCondition = 'RolledBack';

/** The hold in an object's annotations; undefined when there is none or it does not parse. */
export function rollbackHoldOf(annotations: Record<string, string> | undefined): RollbackHold | undefined {
  const text = annotations?.[RollbackAnnotation];
  if (!text) return undefined;
  try {
    const hold = JSON.parse(text) as RollbackHold;
    if (typeof hold.revision !== 'string' || typeof hold.artifact?.path !== 'string') return undefined;
    return hold;
  } catch {
    return undefined;
  }
}
