import { setTimeout as delay } from 'node:timers/promises';
import { ApplyError, KubeApiError, isNotFound } from './errors.ts';
import { cleanupPatch } from './field-manager-cleanup.ts';
import { waitForHealthy } from './health.ts';
import { computeStatus } from './kstatus.ts';
import { manifestDrift } from './manifest-drift.ts';
import { isClusterDefinition, sortForApply } from './kind-order.ts';
import type { KubeTarget } from './kube-client.ts';
import {
  identityOf,
  objectId,
  objectLabel,
  versionOf,
  type KubeObject,
  type ObjectIdentity,
} from './object-id.ts';
import { isOwnedBy, withOwnerLabels, type Owner } from './owner-labels.ts';
import { hasDrifted, jsonEqual, withoutVolatileFields } from './semantic-diff.ts';
import { forceEnabled, reconcileDisabled, ssaPolicy } from './ssa-annotations.ts';
import { resourcePath, type ApiResource } from './api-discovery.ts';

/** Flux's field manager; changing it would orphan every field Kedge (or Flux) applied before. */
export const DefaultFieldManager = 'kustomize-controller';

export interface ApplyOptions {
  owner: Owner;
  /** Default `kustomize-controller`. */
  fieldManager?: string;
  /** Recreate objects whose immutable fields changed (`spec.force`). Per object: the force annotation. */
  force?: boolean;
  /** Compare a server-side dry-run with the live object and write only what differs. Default true. */
  dryRunCompare?: boolean;
  /** How long to wait for CRDs/Namespaces of the first stage, and for a forced delete. Default 60 s. */
  waitTimeoutMs?: number;
  signal?: AbortSignal;
  /**
   * The live objects as a watch holds them (a drift watch's informers). Pass it only when every manifest is the
   * one last applied successfully: an object the watch shows matching its manifest (subset comparison, see
   * `manifestDrift`), owned by `owner` and needing no field-manager cleanup is `unchanged` without a request.
   * Anything else is read and dry-run compared as usual.
   */
  watched?: (ref: ObjectIdentity) => KubeObject | undefined;
  /**
   * Called before the first write of each stage with the objects about to be written (record them first). With
   * stages, the first call also names the later stage's objects whose kind is served already (those a CRD of the
   * first stage defines are named before their own stage's writes): one record before all writes, usually.
   */
  beforeWrite?: (entries: readonly ChangeSetEntry[]) => Promise<void>;
  /** Called with each object's state as its apply answered, or as read or watched when nothing was written. */
  observed?: (ref: ObjectIdentity, state: KubeObject) => void;
}

/** What applying did to one object, after Flux's ssa ChangeSetEntry. */
export type ApplyAction = 'created' | 'configured' | 'unchanged' | 'skipped';

export interface ChangeSetEntry {
  /** Inventory id `<ns>_<name>_<group>_<Kind>`. */
  id: string;
  /** `Kind/namespace/name`. */
  subject: string;
  /** The apiVersion's version, as the inventory records it (`v1`). */
  version: string;
  action: ApplyAction;
  ref: ObjectIdentity;
}

/** What applying one object would do, after Flux's ssa Diff: `live` and `merged` without volatile fields. */
export interface DiffEntry {
  id: string;
  /** `Kind/namespace/name`. */
  subject: string;
  ref: ObjectIdentity;
  action: 'created' | 'configured' | 'unchanged';
  /** The object as it is, when it exists. */
  live?: Record<string, unknown>;
  /** The object as a server-side dry-run apply would leave it, when it exists. */
  merged?: Record<string, unknown>;
}

type Live = KubeObject & { metadata: KubeObject['metadata'] & { uid?: string; resourceVersion?: string } };
interface Planned {
  desired: KubeObject;
  resource: ApiResource;
  path: string;
  entry: ChangeSetEntry;
  write: boolean;
  /** Known not to exist (its Namespace was created by this apply): written without a read or a dry-run. */
  absent?: boolean;
  /** The object as last read or written, for the stage wait. */
  state?: Live;
}

/** One drifted object to re-apply: its applied manifest and the live object as the drift watch saw it. */
export interface Reapply {
  desired: KubeObject;
  live: KubeObject | undefined;
}

/**
 * Server-side apply of rendered objects, after Flux's ssa ResourceManager. Every object gets the owner labels
 * and is applied with `fieldManager` and forced ownership; an object is written only when a dry-run apply
 * shows it would change, so an in-sync set causes no writes at all.
 */
export class ApplyManager {
  constructor(private readonly target: KubeTarget) {}

  /**
   * Applies in Flux's stages: CRDs, Namespaces and ClusterRoles first, then waits until they are ready
   * (CRDs Established), then everything else in Flux's kind order. Returns one entry per object, in apply
   * order. Rejects with ApplyError naming the first object that failed; objects of earlier stages stay applied.
   */
  async applyAllStaged(objects: readonly KubeObject[], options: ApplyOptions): Promise<ChangeSetEntry[]> {
    const definitions = objects.filter(isClusterDefinition);
    const rest = objects.filter((o) => !isClusterDefinition(o));
    const entries: ChangeSetEntry[] = [];
    const absentNamespaces = new Set<string>();
    if (definitions.length > 0) {
      const applied = await this.#applyStage(definitions, options, absentNamespaces, () =>
        this.#servedEntries(rest),
      );
      entries.push(...applied.map((p) => p.entry));
      for (const p of applied)
        if (p.entry.ref.kind === 'Namespace' && p.entry.action === 'created')
          absentNamespaces.add(p.entry.ref.name);
      // What the apply answered (or the read showed) is already Current needs no watch: a Namespace, mostly.
      const waitFor = applied
        .filter((p) => p.entry.action !== 'skipped' && computeStatus(p.state).status !== 'Current')
        .map((p) => p.entry.ref);
      await waitForHealthy(this.target, waitFor, {
        timeoutMs: options.waitTimeoutMs ?? 60_000,
        signal: options.signal,
      });
    }
    entries.push(...(await this.#applyStage(rest, options, absentNamespaces)).map((p) => p.entry));
    return entries;
  }

  /** Applies one stage: plans every object (sorted in Flux's order), then writes those that drifted. */
  async applyAll(objects: readonly KubeObject[], options: ApplyOptions): Promise<ChangeSetEntry[]> {
    return (await this.#applyStage(objects, options, new Set())).map((p) => p.entry);
  }

  /**
   * Plans every object — unchanged per the watched state, created without a read in a Namespace this apply
   * created, else read + server-side dry-run — then writes those that drifted.
   */
  async #applyStage(
    objects: readonly KubeObject[],
    options: ApplyOptions,
    absentNamespaces: ReadonlySet<string>,
    later: () => Promise<ChangeSetEntry[]> = () => Promise.resolve([]),
  ): Promise<Planned[]> {
    const planned: Planned[] = [];
    for (const obj of sortForApply(objects)) {
      options.signal?.throwIfAborted();
      planned.push(await this.#plan(withOwnerLabels(obj, options.owner), options, absentNamespaces));
    }
    const writes = planned.filter((p) => p.write);
    if (writes.length > 0 && options.beforeWrite)
      await options.beforeWrite([...writes.map((p) => p.entry), ...(await later())]);
    for (const p of writes) {
      options.signal?.throwIfAborted();
      p.state = await this.#apply(p.path, p.desired, options, false).catch((error: unknown) => {
        throw applyError(p.entry, p.absent ? 'create failed' : 'apply failed', error);
      });
    }
    if (options.observed) for (const p of planned) if (p.state) options.observed(p.entry.ref, p.state);
    return planned;
  }

  /** Change-set entries of `objects` whose kind the server serves now (no read); the others are left out. */
  async #servedEntries(objects: readonly KubeObject[]): Promise<ChangeSetEntry[]> {
    const out: ChangeSetEntry[] = [];
    for (const obj of objects) {
      const resource = await this.target.discovery
        .resourceFor(obj.apiVersion, obj.kind)
        .catch(() => undefined);
      if (!resource) continue;
      const desired = structuredClone(obj);
      normalizeNamespace(desired, resource);
      const ref = identityOf(desired);
      out.push({
        id: objectId(ref),
        subject: objectLabel(ref),
        version: versionOf(desired.apiVersion),
        action: 'unchanged',
        ref,
      });
    }
    return out;
  }

  /**
   * Re-applies drifted objects from their applied manifests (owner labels included), without a read or a
   * dry-run: the drift watch already compared them with the live state. Keeps the ssa policies (a live or
   * desired `Ignore`/`reconcile: disabled` is left alone, `IfNotPresent` only re-creates), the field-manager
   * cleanup under Override, and force on immutable fields. Returns one entry per object.
   */
  async reapply(items: readonly Reapply[], options: ApplyOptions): Promise<ChangeSetEntry[]> {
    const out: ChangeSetEntry[] = [];
    for (const { desired: manifest, live } of items) {
      options.signal?.throwIfAborted();
      const desired = withOwnerLabels(manifest, options.owner);
      const resource = await this.target.discovery.resourceFor(desired.apiVersion, desired.kind);
      normalizeNamespace(desired, resource);
      const ref = identityOf(desired);
      const path = resourcePath(resource, ref.namespace, ref.name);
      const entry: ChangeSetEntry = {
        id: objectId(ref),
        subject: objectLabel(ref),
        version: versionOf(desired.apiVersion),
        action: live ? 'configured' : 'created',
        ref,
      };
      const policy = ssaPolicy(desired);
      if (
        reconcileDisabled(desired) ||
        policy === 'Ignore' ||
        reconcileDisabled(live) ||
        ssaPolicy(live) === 'Ignore' ||
        (live && policy === 'IfNotPresent')
      ) {
        out.push({ ...entry, action: 'skipped' });
        continue;
      }
      if (live && policy === 'Override')
        await this.#cleanup(path, live, options.fieldManager ?? DefaultFieldManager, entry);
      try {
        await this.#apply(path, desired, options, false);
      } catch (error) {
        const force = options.force === true || forceEnabled(desired) || forceEnabled(live);
        if (!live || !isImmutableError(error) || !force)
          throw applyError(
            entry,
            isImmutableError(error) && !force
              ? 'immutable field detected (enable force to recreate the object)'
              : 'apply failed',
            error,
            isImmutableError(error),
          );
        await this.#deleteAndWait(path, entry, options);
        await this.#apply(path, desired, options, false).catch((retry: unknown) => {
          throw applyError(entry, 'apply failed after recreation', retry);
        });
        entry.action = 'created';
      }
      out.push(entry);
    }
    return out;
  }

  /**
   * What applying `object` (with the owner labels) would do, without writing: `created` when it does not exist,
   * else a server-side dry-run apply compared with the live object, ignoring volatile fields.
   */
  async diff(
    object: KubeObject,
    options: Pick<ApplyOptions, 'owner' | 'fieldManager' | 'signal'>,
  ): Promise<DiffEntry> {
    const desired = withOwnerLabels(object, options.owner);
    const resource = await this.target.discovery.resourceFor(desired.apiVersion, desired.kind);
    if (!resource.namespaced) delete desired.metadata.namespace;
    const ref = identityOf(desired);
    const entry = { id: objectId(ref), subject: objectLabel(ref), ref };
    const path = resourcePath(resource, ref.namespace || undefined, ref.name);
    const live = await this.#get(path);
    if (!live) return { ...entry, action: 'created' };
    const merged = withoutVolatileFields(await this.#apply(path, desired, options, true));
    const before = withoutVolatileFields(live);
    return { ...entry, action: jsonEqual(before, merged) ? 'unchanged' : 'configured', live: before, merged };
  }

  async #plan(
    desired: KubeObject,
    options: ApplyOptions,
    absentNamespaces: ReadonlySet<string>,
  ): Promise<Planned> {
    const resource = await this.target.discovery
      .resourceFor(desired.apiVersion, desired.kind)
      .catch((error: unknown) => {
        throw new ApplyError(
          objectId(identityOf(desired)),
          `${objectLabel(identityOf(desired))}: ${(error as Error).message}`,
          false,
          { cause: error },
        );
      });
    normalizeNamespace(desired, resource);
    const ref = identityOf(desired);
    const entry: ChangeSetEntry = {
      id: objectId(ref),
      subject: objectLabel(ref),
      version: versionOf(desired.apiVersion),
      action: 'unchanged',
      ref,
    };
    const path = resourcePath(resource, ref.namespace, ref.name);
    const plan = (action: ApplyAction, write: boolean, state?: Live): Planned => ({
      desired,
      resource,
      path,
      entry: { ...entry, action },
      write,
      state,
    });
    const policy = ssaPolicy(desired);
    if (reconcileDisabled(desired) || policy === 'Ignore') return plan('skipped', false);
    const watched = options.watched?.(ref);
    if (watched && inSync(desired, watched, policy, options)) return plan('unchanged', false, watched);
    if (resource.namespaced && absentNamespaces.has(ref.namespace))
      return { ...plan('created', true), absent: true };
    let live = await this.#get(path).catch((error: unknown) => {
      throw applyError(entry, 'read failed', error);
    });
    if (reconcileDisabled(live) || ssaPolicy(live) === 'Ignore') return plan('skipped', false);
    if (live && policy === 'IfNotPresent') return plan('skipped', false);
    if (options.dryRunCompare === false) return plan(live ? 'configured' : 'created', true);
    let dryRun: Live;
    try {
      dryRun = await this.#apply(path, desired, options, true);
    } catch (error) {
      const force = options.force === true || forceEnabled(desired) || forceEnabled(live);
      if (!live || !isImmutableError(error))
        throw applyError(entry, 'dry-run failed', error, isImmutableError(error));
      if (!force)
        throw applyError(
          entry,
          'immutable field detected (enable force to recreate the object)',
          error,
          true,
        );
      await this.#deleteAndWait(path, entry, options);
      live = undefined;
      dryRun = await this.#apply(path, desired, options, true).catch((retry: unknown) => {
        throw applyError(entry, 'dry-run failed after recreation', retry);
      });
    }
    let cleaned = false;
    if (live && policy === 'Override')
      cleaned = await this.#cleanup(path, live, options.fieldManager ?? DefaultFieldManager, entry);
    if (!live) return plan('created', true);
    return cleaned || hasDrifted(live, dryRun) ? plan('configured', true) : plan('unchanged', false, live);
  }

  #apply(
    path: string,
    desired: KubeObject,
    options: Pick<ApplyOptions, 'fieldManager' | 'signal'>,
    dryRun: boolean,
  ): Promise<Live> {
    return this.target.rest.request<Live>('PATCH', path, {
      query: {
        fieldManager: options.fieldManager ?? DefaultFieldManager,
        force: 'true',
        dryRun: dryRun ? 'All' : undefined,
      },
      body: desired,
      contentType: 'application/apply-patch+yaml',
      signal: options.signal,
    });
  }

  async #get(path: string): Promise<Live | undefined> {
    try {
      return await this.target.rest.request<Live>('GET', path);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async #cleanup(path: string, live: Live, fieldManager: string, entry: ChangeSetEntry): Promise<boolean> {
    const patch = cleanupPatch(live, fieldManager);
    if (patch.length === 0) return false;
    await this.target.rest
      .request('PATCH', path, {
        body: patch,
        contentType: 'application/json-patch+json',
        query: { fieldManager },
      })
      .catch((error: unknown) => {
        throw applyError(entry, 'metadata.managedFields cleanup failed', error);
      });
    return true;
  }

  async #deleteAndWait(path: string, entry: ChangeSetEntry, options: ApplyOptions): Promise<void> {
    await this.target.rest
      .request('DELETE', path, { body: { propagationPolicy: 'Background' } })
      .catch((error: unknown) => {
        if (!isNotFound(error))
          throw applyError(entry, 'immutable field detected, failed to delete object', error);
      });
    // Finalizers may hold the object a while; Flux polls the same way before re-creating it.
    const deadline = Date.now() + (options.waitTimeoutMs ?? 60_000);
    while ((await this.#get(path)) !== undefined) {
      if (Date.now() > deadline)
        throw new ApplyError(
          entry.id,
          `${entry.subject}: immutable field detected, timeout waiting for the object to be deleted`,
          true,
        );
      await delay(200, undefined, { signal: options.signal });
    }
  }
}

/**
 * The watched live object already is what applying `desired` would leave: ours, not being deleted, not left
 * alone by a live annotation, every manifest field present with its value, and nothing for the field-manager
 * cleanup to take over. Holds only when `desired` is the manifest last applied (see ApplyOptions.watched).
 */
function inSync(desired: KubeObject, live: Live, policy: string, options: ApplyOptions): boolean {
  if (
    (live.metadata as { deletionTimestamp?: string }).deletionTimestamp ||
    !isOwnedBy(live as never, options.owner)
  )
    return false;
  if (reconcileDisabled(live) || ssaPolicy(live) === 'Ignore' || policy === 'IfNotPresent') return false;
  if (policy === 'Override' && cleanupPatch(live, options.fieldManager ?? DefaultFieldManager).length > 0)
    return false;
  return manifestDrift(desired, live).length === 0;
}

/** A namespaced object needs a namespace; a cluster-scoped one loses any it was given. */
function normalizeNamespace(desired: KubeObject, resource: ApiResource): void {
  if (!resource.namespaced) delete desired.metadata.namespace;
  else if (!desired.metadata.namespace) {
    throw new ApplyError(
      objectId(identityOf(desired)),
      `${objectLabel(identityOf(desired))}: namespace not specified for a namespaced kind`,
    );
  }
}

/** The server rejected a change to an immutable field (422 Invalid naming immutability). */
export function isImmutableError(error: unknown): boolean {
  if (!(error instanceof KubeApiError) || error.code !== 422) return false;
  return /immutable|may not change|cannot be changed/i.test([error.message, ...error.causes].join(' '));
}

function applyError(entry: ChangeSetEntry, what: string, error: unknown, immutable = false): ApplyError {
  const detail = error instanceof Error ? error.message : String(error);
  return new ApplyError(entry.id, `${entry.subject} ${what}: ${detail}`, immutable, { cause: error });
}
