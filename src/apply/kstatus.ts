/** kstatus result of one object (sigs.k8s.io/cli-utils/pkg/kstatus/status). */
export type HealthStatus = 'Current' | 'InProgress' | 'Failed' | 'Terminating' | 'NotFound' | 'Unknown';

export interface ObjectStatus {
  status: HealthStatus;
  message: string;
}

interface Cond {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

type Obj = Record<string, unknown> & {
  kind?: string;
  metadata?: { generation?: number; deletionTimestamp?: string };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown> & { observedGeneration?: number; conditions?: Cond[] };
};

const current = (message: string): ObjectStatus => ({ status: 'Current', message });
const inProgress = (message: string): ObjectStatus => ({ status: 'InProgress', message });
const failed = (message: string): ObjectStatus => ({ status: 'Failed', message });

function str(value: unknown, fallback: string): string {
  return typeof value === 'string' ? value : fallback;
}

function num(value: unknown, fallback = 0): number {
  return typeof value === 'number' ? value : fallback;
}

function condition(obj: Obj, type: string): Cond | undefined {
  return obj.status?.conditions?.find((c) => c.type === type);
}

/**
 * Computes an object's status with kstatus' rules: built-in rules for Deployment, StatefulSet, DaemonSet,
 * ReplicaSet, Job, Pod, Service, PersistentVolumeClaim, CustomResourceDefinition and Namespace; for every other
 * kind (Kedge's and Flux's own included) the standard `Stalled` / `Reconciling` / `Ready` conditions and
 * `status.observedGeneration`. `undefined` (the object does not exist) is NotFound. Pure.
 */
export function computeStatus(object: object | undefined): ObjectStatus {
  const obj = object as Obj | undefined;
  if (!obj) return { status: 'NotFound', message: 'object not found' };
  if (obj.metadata?.deletionTimestamp) return { status: 'Terminating', message: 'object is being deleted' };
  const generation = obj.metadata?.generation;
  const observed = obj.status?.observedGeneration;
  if (generation !== undefined && observed !== undefined && observed < generation) {
    return inProgress(`generation ${generation} not yet observed (observed ${observed})`);
  }
  const generic = conditionStatus(obj);
  if (generic) return generic;
  const rule = rules[obj.kind ?? ''];
  if (rule) return rule(obj);
  const ready = condition(obj, 'Ready');
  if (ready?.status === 'False') return inProgress(ready.message || 'Ready condition is False');
  if (ready?.status === 'Unknown') return inProgress(ready.message || 'Ready condition is Unknown');
  return current(ready?.message || 'Resource is current');
}

// kstatus' generic conditions, checked before kind rules: Stalled=True fails, Reconciling=True is in progress.
function conditionStatus(obj: Obj): ObjectStatus | undefined {
  const stalled = condition(obj, 'Stalled');
  if (stalled?.status === 'True') return failed(stalled.message || stalled.reason || 'Stalled');
  const reconciling = condition(obj, 'Reconciling');
  if (reconciling?.status === 'True') return inProgress(reconciling.message || reconciling.reason || 'Reconciling');
  return undefined;
}

const rules: Record<string, (obj: Obj) => ObjectStatus> = {
  Deployment(obj) {
    const replicas = num(obj.spec?.replicas, 1);
    const s = obj.status ?? {};
    const progressing = condition(obj, 'Progressing');
    if (progressing?.reason === 'ProgressDeadlineExceeded') return failed(progressing.message || 'Progress deadline exceeded');
    if (obj.status?.observedGeneration === undefined) return inProgress('Deployment status not yet observed');
    if (num(s.updatedReplicas) < replicas) return inProgress(`Updated: ${num(s.updatedReplicas)}/${replicas}`);
    if (num(s.replicas) > num(s.updatedReplicas)) return inProgress(`Pending termination: ${num(s.replicas) - num(s.updatedReplicas)}`);
    if (num(s.availableReplicas) < replicas) return inProgress(`Available: ${num(s.availableReplicas)}/${replicas}`);
    if (num(s.readyReplicas) < replicas) return inProgress(`Ready: ${num(s.readyReplicas)}/${replicas}`);
    if (!(progressing?.status === 'True' && progressing.reason === 'NewReplicaSetAvailable')) return inProgress('ReplicaSet not Available');
    if (condition(obj, 'Available')?.status !== 'True') return inProgress('Deployment not Available');
    return current(`Deployment is available. Replicas: ${num(s.replicas)}`);
  },
  StatefulSet(obj) {
    const replicas = num(obj.spec?.replicas, 1);
    const s = obj.status ?? {};
    if (obj.status?.observedGeneration === undefined) return inProgress('StatefulSet status not yet observed');
    if ((obj.spec?.updateStrategy as { type?: string } | undefined)?.type === 'OnDelete') return current('StatefulSet is using the OnDelete update strategy');
    if (num(s.replicas) > replicas) return inProgress(`Pending termination: ${num(s.replicas) - replicas}`);
    if (num(s.readyReplicas) < replicas) return inProgress(`Ready: ${num(s.readyReplicas)}/${replicas}`);
    if (num(s.currentReplicas) < replicas && s.updateRevision !== s.currentRevision) return inProgress(`Updated: ${num(s.currentReplicas)}/${replicas}`);
    return current(`All replicas scheduled as expected. Replicas: ${num(s.readyReplicas)}`);
  },
  DaemonSet(obj) {
    const s = obj.status ?? {};
    if (obj.status?.observedGeneration === undefined) return inProgress('DaemonSet status not yet observed');
    const desired = num(s.desiredNumberScheduled);
    if (num(s.currentNumberScheduled) < desired) return inProgress(`Scheduled: ${num(s.currentNumberScheduled)}/${desired}`);
    if (num(s.updatedNumberScheduled) < desired) return inProgress(`Updated: ${num(s.updatedNumberScheduled)}/${desired}`);
    if (num(s.numberAvailable) < desired) return inProgress(`Available: ${num(s.numberAvailable)}/${desired}`);
    if (num(s.numberReady) < desired) return inProgress(`Ready: ${num(s.numberReady)}/${desired}`);
    return current(`All replicas scheduled as expected. Replicas: ${desired}`);
  },
  ReplicaSet(obj) {
    const replicas = num(obj.spec?.replicas, 1);
    const s = obj.status ?? {};
    const failure = condition(obj, 'ReplicaFailure');
    if (failure?.status === 'True') return inProgress(failure.message || 'Replica failure');
    if (num(s.availableReplicas) < replicas) return inProgress(`Available: ${num(s.availableReplicas)}/${replicas}`);
    if (num(s.readyReplicas) < replicas) return inProgress(`Ready: ${num(s.readyReplicas)}/${replicas}`);
    return current(`ReplicaSet is available. Replicas: ${num(s.replicas)}`);
  },
  Job(obj) {
    const fail = condition(obj, 'Failed');
    if (fail?.status === 'True') return failed(fail.message || fail.reason || 'Job failed');
    if (condition(obj, 'Complete')?.status === 'True') return current('Job Completed');
    return inProgress(`Job in progress: active ${num(obj.status?.active)}, succeeded ${num(obj.status?.succeeded)}`);
  },
  Pod(obj) {
    const phase = obj.status?.phase;
    if (phase === 'Succeeded') return current('Pod has completed successfully');
    if (phase === 'Failed') return failed('Pod has completed, but not successfully');
    const waiting = ((obj.status?.containerStatuses ?? []) as { state?: { waiting?: { reason?: string } } }[])
      .map((c) => c.state?.waiting?.reason)
      .find((r) => r === 'CrashLoopBackOff' || r === 'ImagePullBackOff' || r === 'ErrImagePull');
    if (waiting) return failed(`Pod could not start: ${waiting}`);
    if (phase === 'Running' && condition(obj, 'Ready')?.status === 'True') return current('Pod is Ready');
    return inProgress(`Pod phase ${str(phase, 'Pending')}`);
  },
  Service(obj) {
    if (obj.spec?.type !== 'LoadBalancer') return current('Service is ready');
    const ingress = (obj.status?.loadBalancer as { ingress?: unknown[] } | undefined)?.ingress ?? [];
    return ingress.length > 0 ? current('Service is ready') : inProgress('LoadBalancer has no ingress yet');
  },
  PersistentVolumeClaim(obj) {
    return obj.status?.phase === 'Bound' ? current('PVC is Bound') : inProgress(`PVC is not Bound: phase ${str(obj.status?.phase, 'Pending')}`);
  },
  CustomResourceDefinition(obj) {
    const names = condition(obj, 'NamesAccepted');
    if (names?.status === 'False') return failed(names.message || 'CRD names not accepted');
    return condition(obj, 'Established')?.status === 'True' ? current('CRD is established') : inProgress('CRD is not established');
  },
  Namespace(obj) {
    const phase = obj.status?.phase;
    if (phase === 'Terminating') return { status: 'Terminating', message: 'Namespace is terminating' };
    return phase === 'Active' ? current('Namespace is active') : inProgress(`Namespace phase ${str(phase, 'unknown')}`);
  },
};
