import type { KObject, KedgeEvent, ObjectRef } from '../api/meta.ts';

/** What happened to an object, as delivered to watchers. */
export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  /** The object after the change; for DELETED, its last state. */
  object: KObject;
}

export interface ListOptions {
  /** Only this namespace; all namespaces when absent. */
  namespace?: string;
  /** Every given label must match exactly. */
  labels?: Record<string, string>;
}

export interface EventFilter {
  kind?: string;
  namespace?: string;
  name?: string;
  /** Newest first, at most this many (default 100). */
  limit?: number;
}

export type ApplyResult = 'created' | 'configured' | 'unchanged';

/**
 * Where Kedge's own objects, their status and their events live. Two implementations: the embedded SQLite
 * store (standalone) and, later, the Kubernetes API (operator mode). Reconcilers never know which.
 *
 * Guarantees shared by all implementations (see the conformance suite in store.conformance.ts):
 * - `resourceVersion` changes on every write; a write that carries a stale one throws {@link ConflictError}.
 * - `generation` starts at 1 and increments only when the object's desired state (spec, or a core kind's
 *   data/stringData/type) changes; metadata-only and status writes keep it.
 * - `apply` never touches `status`; `updateStatus` touches nothing but `status`.
 * - `delete` of an object with finalizers only sets `deletionTimestamp`; the object goes once an `update`
 *   empties its finalizers.
 * - Watchers see every change made by this process or by another process on the same store, in order.
 */
export interface Store {
  get(ref: ObjectRef): Promise<KObject | undefined>;
  list(kind: string, options?: ListOptions): Promise<KObject[]>;
  /** Create, or replace desired state (spec/data, labels, annotations) of, an object. */
  apply(object: KObject): Promise<{ object: KObject; result: ApplyResult }>;
  /** Replace metadata (labels, annotations, finalizers) and desired state; optimistic on resourceVersion. */
  update(object: KObject): Promise<KObject>;
  /** Replace `status`; optimistic when `resourceVersion` is given. */
  updateStatus(ref: ObjectRef, status: unknown, resourceVersion?: string): Promise<KObject>;
  /** True when the object existed. */
  delete(ref: ObjectRef): Promise<boolean>;
  /** Calls `handler` for every change to objects of `kind` (all kinds when undefined). Returns unsubscribe. */
  watch(kind: string | undefined, handler: (event: WatchEvent) => void): () => void;
  recordEvent(event: Omit<KedgeEvent, 'id' | 'count' | 'firstTimestamp' | 'lastTimestamp'>): Promise<void>;
  listEvents(filter?: EventFilter): Promise<KedgeEvent[]>;
  close(): Promise<void>;
}

/** A write carried a stale resourceVersion: somebody else changed the object first. */
export class ConflictError extends Error {
  constructor(readonly ref: ObjectRef) {
    super(`${ref.kind} ${ref.namespace}/${ref.name} was modified concurrently; read it again and retry`);
    this.name = 'ConflictError';
  }
}

/** The object does not exist. */
export class NotFoundError extends Error {
  constructor(readonly ref: ObjectRef) {
    super(`${ref.kind} ${ref.namespace}/${ref.name} not found`);
    this.name = 'NotFoundError';
  }
}
