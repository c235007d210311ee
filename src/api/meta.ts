/** Kubernetes-style object metadata, as Kedge stores it and as Flux manifests carry it. */
export interface ObjectMeta {
  name: string;
  /** Defaults to `default` for namespaced kinds. */
  namespace?: string;
  uid?: string;
  /** Opaque; changes on every write. Writes that carry one fail with a conflict when it is stale. */
  resourceVersion?: string;
  /** Incremented by the store whenever `spec` (or a core kind's data) changes. */
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  creationTimestamp?: string;
  /** Set by the store when a delete is requested while finalizers remain. */
  deletionTimestamp?: string;
  finalizers?: string[];
}

/** A status condition, shaped exactly as metav1.Condition. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

/**
 * Any object Kedge knows. Kinds with a spec use `spec`; core `Secret` and `ConfigMap` use `data`,
 * `stringData` and `type` at the top level, exactly as Kubernetes does.
 */
export interface KObject<Spec = unknown, Status = unknown> {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: Spec;
  status?: Status;
  [field: string]: unknown;
}

/** Identifies one object: its kind, namespace and name. */
export interface ObjectRef {
  kind: string;
  namespace: string;
  name: string;
}

/** `Kind/namespace/name`, the form used in logs, events and queue keys. */
export function refString(ref: ObjectRef): string {
  return `${ref.kind}/${ref.namespace}/${ref.name}`;
}

export function refOf(obj: KObject): ObjectRef {
  return { kind: obj.kind, namespace: obj.metadata.namespace ?? 'default', name: obj.metadata.name };
}

/** A recorded event, shaped after Kubernetes core/v1 Event as Flux's controllers emit them. */
export interface KedgeEvent {
  id?: number;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  involvedObject: { apiVersion: string; kind: string; namespace: string; name: string; uid?: string };
  /** Flux's event metadata, e.g. `source.toolkit.fluxcd.io/revision`. */
  annotations?: Record<string, string>;
  reportingController: string;
  firstTimestamp: string;
  lastTimestamp: string;
  /** How many identical events (same object, type, reason, message) were folded into this one. */
  count: number;
}
