import { rollbackHoldOf, RolledBackCondition, type HistoryEntry } from '../../api/history.ts';
import type { Condition, KObject } from '../../api/meta.ts';
import { parseObjectId } from '../../apply/object-id.ts';
import { scrubUrl } from '../../notify/scrub-url.ts';

/** How the dashboard colours an object, from its conditions alone (so any kind with Flux-style status fits). */
export type ObjectState = 'failed' | 'progressing' | 'suspended' | 'ready' | 'unknown';

/** One row of the dashboard's lists: what every kind has, read generically from spec and status. */
export interface ObjectSummary {
  kind: string;
  namespace: string;
  name: string;
  state: ObjectState;
  suspended: boolean;
  /** The Ready condition's reason and message (empty when there is none yet). */
  reason: string;
  message: string;
  /** The artifact's revision for sources; the last applied (else attempted) revision for appliers. */
  revision: string;
  /** When the revision was last fetched (sources) or Ready last changed (everything else). */
  lastUpdate: string;
  /** `Kind/namespace/name` of `spec.sourceRef`, when there is one. */
  source?: string;
  /** `namespace/name` of each `spec.dependsOn`. */
  dependsOn: string[];
  /** Where a source fetches from, without credentials or secret paths. */
  url?: string;
  /** RolledBack=True: held at an earlier revision by a rollback (its message says where). */
  rolledBack: boolean;
  resourceVersion: string;
}

/** A history entry as served: what happened, without the artifact's storage path and URL. */
export interface HistoryView {
  time: string;
  durationMs: number;
  revision: string;
  result: string;
  reason: string;
  message: string;
  changes: { created: string[]; configured: string[]; deleted: string[] };
  rolledBack: boolean;
  /** A rollback can go back to it (it succeeded and its artifact is recorded). */
  restorable: boolean;
}

/** One inventory entry, parsed: what a Kustomization applied. */
export interface InventoryItem {
  group: string;
  kind: string;
  namespace: string;
  name: string;
  version: string;
}

/** An object page: the summary plus conditions, spec (credentials scrubbed), inventory and App replicas. */
export interface ObjectDetail extends ObjectSummary {
  conditions: Condition[];
  spec: unknown;
  labels: Record<string, string>;
  inventory: InventoryItem[];
  replicas: unknown[];
  lastAttemptedRevision?: string;
  lastHandledReconcileAt?: string;
  /** The rollback hold, when there is one: the revision held and where the source was. */
  hold?: { revision: string; sourceRevision: string; autoRelease: boolean; requestedAt: string };
}

interface LooseStatus {
  conditions?: Condition[];
  artifact?: { revision?: string; lastUpdateTime?: string };
  lastAppliedRevision?: string;
  lastAttemptedRevision?: string;
  currentRevision?: string;
  lastHandledReconcileAt?: string;
  inventory?: { entries?: Array<{ id: string; v: string }> };
  replicaStatuses?: unknown[];
}

interface LooseSpec {
  suspend?: boolean;
  sourceRef?: { kind: string; name: string; namespace?: string };
  dependsOn?: Array<{ name: string; namespace?: string }>;
  url?: string;
  endpoint?: string;
}

/** The list row of `object`. */
export function summarize(object: KObject): ObjectSummary {
  const status = (object.status ?? {}) as LooseStatus;
  const spec = (object.spec ?? {}) as LooseSpec;
  const namespace = object.metadata.namespace ?? 'default';
  const ready = status.conditions?.find((c) => c.type === 'Ready');
  const reconciling = status.conditions?.find((c) => c.type === 'Reconciling')?.status === 'True';
  const suspended = spec.suspend === true;
  return {
    kind: object.kind,
    namespace,
    name: object.metadata.name,
    state: stateOf(ready, reconciling, suspended),
    suspended,
    reason: ready?.reason ?? '',
    message: scrubText(ready?.message ?? ''),
    revision:
      status.artifact?.revision ??
      status.lastAppliedRevision ??
      status.currentRevision ??
      status.lastAttemptedRevision ??
      '',
    lastUpdate: status.artifact?.lastUpdateTime ?? ready?.lastTransitionTime ?? '',
    source: spec.sourceRef
      ? `${spec.sourceRef.kind}/${spec.sourceRef.namespace ?? namespace}/${spec.sourceRef.name}`
      : undefined,
    dependsOn: (spec.dependsOn ?? []).map((d) => `${d.namespace ?? namespace}/${d.name}`),
    url:
      typeof spec.url === 'string'
        ? withoutCredentials(spec.url)
        : typeof spec.endpoint === 'string'
          ? withoutCredentials(spec.endpoint)
          : undefined,
    rolledBack:
      status.conditions?.some((c) => c.type === RolledBackCondition && c.status === 'True') ?? false,
    resourceVersion: object.metadata.resourceVersion ?? '',
  };
}

export function historyView(entry: HistoryEntry): HistoryView {
  return {
    time: entry.time,
    durationMs: entry.durationMs,
    revision: entry.revision,
    result: entry.result,
    reason: entry.reason,
    message: scrubText(entry.message),
    changes: entry.changes,
    rolledBack: entry.rolledBack === true,
    restorable: entry.result === 'Succeeded' && entry.artifact !== undefined,
  };
}

/** The object page of `object`. */
export function detail(object: KObject): ObjectDetail {
  const status = (object.status ?? {}) as LooseStatus;
  return {
    ...summarize(object),
    conditions: (status.conditions ?? []).map((c) => ({ ...c, message: scrubText(c.message) })),
    spec: scrubSpec(object.kind, object.spec),
    labels: object.metadata.labels ?? {},
    inventory: (status.inventory?.entries ?? []).flatMap((entry) => {
      try {
        return [{ ...parseObjectId(entry.id), version: entry.v }];
      } catch {
        return [];
      }
    }),
    replicas: status.replicaStatuses ?? [],
    lastAttemptedRevision: status.lastAttemptedRevision,
    lastHandledReconcileAt: status.lastHandledReconcileAt,
    hold: holdView(object),
  };
}

function holdView(object: KObject): ObjectDetail['hold'] {
  const hold = rollbackHoldOf(object.metadata.annotations);
  return (
    hold && {
      revision: hold.revision,
      sourceRevision: hold.sourceRevision,
      autoRelease: hold.autoRelease === true,
      requestedAt: hold.requestedAt,
    }
  );
}

/** Failing first, then in progress, suspended, unknown, ready. */
export const stateOrder: readonly ObjectState[] = ['failed', 'progressing', 'suspended', 'unknown', 'ready'];

function stateOf(ready: Condition | undefined, reconciling: boolean, suspended: boolean): ObjectState {
  if (ready?.status === 'False') return 'failed';
  if (suspended) return 'suspended';
  if (reconciling || ready?.status === 'Unknown') return 'progressing';
  if (ready?.status === 'True') return 'ready';
  return 'unknown';
}

/**
 * The spec with nothing secret: every URL without user info, and a Provider's `address`/`proxy` reduced to scheme
 * and host (webhook addresses carry their secret in the path). Secrets themselves are never served at all.
 */
function scrubSpec(kind: string, spec: unknown): unknown {
  const walk = (value: unknown, key: string): unknown => {
    if (typeof value === 'string') {
      if (kind === 'Provider' && (key === 'address' || key === 'proxy')) return scrubUrl(value);
      return /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? withoutCredentials(value) : value;
    }
    if (Array.isArray(value)) return value.map((v) => walk(v, key));
    if (value && typeof value === 'object')
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, k)]));
    return value;
  };
  return walk(spec, '');
}

/**
 * `text` with every URL in it stripped of user info and query: messages quote URLs (a failed fetch names its
 * remote), and the dashboard serves nothing secret even when a message would carry it.
 */
export function scrubText(text: string): string {
  return text.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s'"`]+/gi, (url) => withoutCredentials(url));
}

/** An event as served: its message scrubbed as {@link scrubText}. */
export function scrubEvent<E extends { message: string }>(event: E): E {
  return { ...event, message: scrubText(event.message) };
}

/** A URL without `user:password@`, and without its query (tokens travel there). */
function withoutCredentials(text: string): string {
  try {
    const url = new URL(text);
    if (!url.username && !url.password && !url.search) return text;
    url.username = '';
    url.password = '';
    url.search = '';
    return url.toString();
  } catch {
    return text.replace(/\/\/[^/@]*@/, '//');
  }
}
