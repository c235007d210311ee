import { CollectionWatch } from './collection-watch.ts';
import { HealthCheckError } from './errors.ts';
import type { KubeTarget } from './kube-client.ts';
import type { StatusRule } from './health-check-exprs.ts';
import { computeStatus, type ObjectStatus } from './kstatus.ts';
import { objectLabel, type KubeObject, type ObjectIdentity } from './object-id.ts';
import { resourcePath } from './api-discovery.ts';

export interface WaitOptions {
  timeoutMs: number;
  /** Aborting ends the wait at once with the signal's reason (a new revision cancelling an old wait). */
  signal?: AbortSignal;
  /** Stop at the first Failed object instead of waiting for the timeout (Flux's default). Default true. */
  failFast?: boolean;
  /** How an object's status is computed. Default kstatus' rules; a Kustomization's `healthCheckExprs` add theirs. */
  status?: StatusRule;
}

/** The status of every watched object when the wait ended. */
export type HealthReport = Map<string, ObjectStatus & { ref: ObjectIdentity }>;

/**
 * Watches `refs` (one list-then-watch per kind and namespace, no polling) until every object is Current
 * (resolves with the report), or one is Failed (with failFast), or the timeout passes: both reject with
 * HealthCheckError listing the objects not Current. Aborting `signal` rejects with its reason. All watches
 * are closed before the promise settles.
 */
export async function waitForHealthy(target: KubeTarget, refs: readonly ObjectIdentity[], options: WaitOptions): Promise<HealthReport> {
  const report: HealthReport = new Map();
  if (refs.length === 0) return report;
  options.signal?.throwIfAborted();
  for (const ref of refs) report.set(objectLabel(ref), { ref, status: 'Unknown', message: 'status not yet read' });
  const watches: CollectionWatch[] = [];
  const statusOf = options.status ?? computeStatus;
  let settle: ((error?: Error) => void) | undefined;
  const done = new Promise<void>((resolve, reject) => {
    settle = (error) => (error === undefined ? resolve() : reject(error));
  });
  done.catch(() => undefined); // settled early (e.g. timeout while watches start); awaited below
  const evaluate = (): void => {
    const entries = [...report.values()];
    if (entries.every((e) => e.status === 'Current')) settle?.();
    else if (options.failFast !== false && entries.some((e) => e.status === 'Failed')) settle?.(unhealthyError('health check failed', report));
  };
  const timer = setTimeout(() => settle?.(unhealthyError(`timeout waiting for ${refs.length} object(s) after ${options.timeoutMs} ms`, report)), options.timeoutMs);
  const onAbort = (): void => settle?.(options.signal?.reason instanceof Error ? options.signal.reason : new Error('health check aborted'));
  options.signal?.addEventListener('abort', onAbort);
  try {
    for (const group of groupRefs(refs).values()) {
      const resource = await target.discovery.resourceFor(group[0]!.apiVersion, group[0]!.kind);
      const namespace = resource.namespaced ? group[0]!.namespace : undefined;
      const update = (obj: KubeObject | undefined, ref: ObjectIdentity): void => {
        report.set(objectLabel(ref), { ref, ...statusOf(obj) });
      };
      const watch = new CollectionWatch({
        kubeConfig: target.kubeConfig,
        rest: target.rest,
        apiVersion: group[0]!.apiVersion,
        kind: group[0]!.kind,
        path: resourcePath(resource, namespace),
        fieldSelector: group.length === 1 ? `metadata.name=${group[0]!.name}` : undefined,
        onList: (items) => {
          for (const ref of group) update(items.find((i) => i.metadata.name === ref.name), ref);
          evaluate();
        },
        onEvent: (type, obj) => {
          const ref = group.find((r) => r.name === obj.metadata.name);
          if (!ref) return;
          update(type === 'DELETED' ? undefined : obj, ref);
          evaluate();
        },
      });
      watches.push(watch);
      await watch.start();
    }
    await done;
    return report;
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    for (const watch of watches) watch.stop();
  }
}

function groupRefs(refs: readonly ObjectIdentity[]): Map<string, ObjectIdentity[]> {
  const groups = new Map<string, ObjectIdentity[]>();
  for (const ref of refs) {
    const key = `${ref.apiVersion}|${ref.kind}|${ref.namespace}`;
    groups.set(key, [...(groups.get(key) ?? []), ref]);
  }
  return groups;
}

function unhealthyError(prefix: string, report: HealthReport): HealthCheckError {
  const unhealthy = [...report.entries()].filter(([, e]) => e.status !== 'Current').map(([ref, e]) => ({ ref, status: e.status, message: e.message }));
  const detail = unhealthy.map((u) => `${u.ref} status: '${u.status}'${u.message ? ` (${u.message})` : ''}`).join(', ');
  return new HealthCheckError(`${prefix}: ${detail}`, unhealthy);
}
