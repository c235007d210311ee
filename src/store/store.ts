import type { HistoryEntry } from '../api/history.ts';
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
 * store (standalone, `sqlite/`) and the Kubernetes API (operator mode, `kubernetes/`: custom resources).
 * Reconcilers never know which.
 *
 * Guarantees shared by all implementations (see the conformance suite in store-conformance.ts):
 * - Objects are keyed by kind, namespace and name; an object without a namespace lives in `default`.
 * - `resourceVersion` changes on every write that changes something; a write that carries a stale one throws
 *   {@link ConflictError}. A write that changes nothing (same desired state, metadata or status) is a no-op:
 *   resourceVersion stays and no watch event fires.
 * - `generation` starts at 1 and increments only when the object's desired state (spec, or for core kinds
 *   without spec every top-level field but apiVersion/kind/metadata/status: data, stringData, type, …)
 *   changes, compared regardless of key order; metadata-only and status writes keep it.
 * - `apply` never touches `status` or `finalizers`; `updateStatus` touches nothing but `status`.
 * - `delete` of an object with finalizers only sets `deletionTimestamp`; the object goes once an `update`
 *   empties its finalizers.
 * - Watchers see every change made by this process or by another process on the same store, each exactly
 *   once and in order; changes of this process are delivered before the write's promise settles. (Kubernetes:
 *   another process's changes from the kind's first list on, as an informer; see `StoreCapabilities`.)
 * - Returned objects are copies: changing them changes nothing in the store.
 */
export interface Store {
  get(ref: ObjectRef): Promise<KObject | undefined>;
  list(kind: string, options?: ListOptions): Promise<KObject[]>;
  /**
   * Create, or replace desired state (spec/data, labels, annotations) of, an object. Not optimistic: a
   * `resourceVersion` on `object` is ignored. Keeps status and finalizers (finalizers are taken on create).
   */
  apply(object: KObject): Promise<{ object: KObject; result: ApplyResult }>;
  /**
   * Replace metadata (labels, annotations, finalizers) and desired state; optimistic when `resourceVersion` is
   * given. Throws {@link NotFoundError} when the object does not exist. An object being deleted goes once its
   * finalizers are empty; the result is then its last state.
   */
  update(object: KObject): Promise<KObject>;
  /** Replace `status`; optimistic when `resourceVersion` is given. Throws {@link NotFoundError} when missing. */
  updateStatus(ref: ObjectRef, status: unknown, resourceVersion?: string): Promise<KObject>;
  /** True when the object existed. With finalizers, only marks it with `deletionTimestamp` (MODIFIED). */
  delete(ref: ObjectRef): Promise<boolean>;
  /** Calls `handler` for every change to objects of `kind` (all kinds when undefined). Returns unsubscribe. */
  watch(kind: string | undefined, handler: (event: WatchEvent) => void): () => void;
  /** Records an event; an identical one (same object, type, reason, message) within the last hour is counted up. */
  recordEvent(event: Omit<KedgeEvent, 'id' | 'count' | 'firstTimestamp' | 'lastTimestamp'>): Promise<void>;
  listEvents(filter?: EventFilter): Promise<KedgeEvent[]>;
  /**
   * Records one history entry of an existing object and keeps only its newest `keep` entries. Returns the entry
   * with its `id`. Throws {@link NotFoundError} when the object does not exist.
   */
  appendHistory(ref: ObjectRef, entry: HistoryEntry, keep: number): Promise<HistoryEntry>;
  /** The object's history, newest first (at most `limit` entries when given). */
  listHistory(ref: ObjectRef, limit?: number): Promise<HistoryEntry[]>;
  /** Every history entry of every object of `kind`, with the object each belongs to (artifact retention). */
  listHistoryOfKind(kind: string): Promise<Array<{ ref: ObjectRef; entry: HistoryEntry }>>;
  /** Removes the object's history (its object was deleted). */
  deleteHistory(ref: ObjectRef): Promise<void>;
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

/** An object handed to the store lacks what every object needs (apiVersion, kind, metadata.name). */
export class InvalidObjectError extends Error {
  constructor(readonly problem: string) {
    super(`invalid object: ${problem}`);
    this.name = 'InvalidObjectError';
  }
}
