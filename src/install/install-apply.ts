import { CrdPartOfLabel, kindResources } from '../api/crds.ts';
import type { KObject } from '../api/meta.ts';
import { resourcePath } from '../apply/api-discovery.ts';
import { KubeApiError } from '../apply/errors.ts';
import { waitForHealthy } from '../apply/health.ts';
import type { KubeTarget } from '../apply/kube-client.ts';
import { objectLabel, type ObjectIdentity } from '../apply/object-id.ts';
import { InstallNames } from './install-manifests.ts';

/** Field manager of `kedge install` (not the Kustomizations' `kustomize-controller`). */
export const InstallFieldManager = 'kedge';

/** What happened to one object: one line each, reported as it happens. */
export type InstallAction = 'created' | 'configured' | 'unchanged' | 'kept' | 'deleted' | 'not found';

export interface InstallReport {
  object(subject: string, action: InstallAction, note?: string): void;
  progress(line: string): void;
}

interface Live {
  metadata: { resourceVersion?: string; labels?: Record<string, string> };
}

/**
 * Applies the install's objects with server-side apply (field manager `kedge`, forced): CRDs and the Namespace
 * first, then waits until the CRDs are Established, then the rest. Idempotent: an object whose apply changes
 * nothing is reported unchanged (its resourceVersion stays). A CRD of that name that Kedge did not create
 * (Flux's, on a cluster moving from Flux) is kept as it is.
 */
export async function applyInstall(
  target: KubeTarget,
  objects: readonly KObject[],
  report: InstallReport,
  timeoutMs: number,
): Promise<void> {
  const first = objects.filter((o) => o.kind === 'CustomResourceDefinition' || o.kind === 'Namespace');
  const rest = objects.filter((o) => !first.includes(o));
  report.progress(`applying ${first.length - 1} CustomResourceDefinitions and the Namespace`);
  const crds: KObject[] = [];
  for (const object of first)
    if ((await applyOne(target, object, report)) && object.kind === 'CustomResourceDefinition')
      crds.push(object);
  report.progress('waiting for the CustomResourceDefinitions to be Established');
  await waitForHealthy(
    target,
    crds.map((o) => identity(o)),
    { timeoutMs },
  );
  report.progress(`applying the ServiceAccount, RBAC, Deployment and Services`);
  for (const object of rest) await applyOne(target, object, report);
}

/** Applies one object; false when it was kept as it is (a CRD that is not Kedge's). */
async function applyOne(target: KubeTarget, object: KObject, report: InstallReport): Promise<boolean> {
  const id = identity(object);
  const resource = await target.discovery.resourceFor(id.apiVersion, id.kind);
  const path = resourcePath(resource, resource.namespaced ? id.namespace : undefined, id.name);
  const before = await read(target, path);
  const subject = objectLabel(id);
  if (
    object.kind === 'CustomResourceDefinition' &&
    before &&
    before.metadata.labels?.[CrdPartOfLabel] !== 'kedge'
  ) {
    report.object(subject, 'kept', 'not created by Kedge (Flux?): used as it is');
    return false;
  }
  const after = await target.rest.request<Live>('PATCH', path, {
    query: { fieldManager: InstallFieldManager, force: 'true' },
    contentType: 'application/apply-patch+yaml',
    body: object,
  });
  report.object(
    subject,
    !before
      ? 'created'
      : before.metadata.resourceVersion === after.metadata.resourceVersion
        ? 'unchanged'
        : 'configured',
  );
  return true;
}

async function read(target: KubeTarget, path: string): Promise<Live | undefined> {
  try {
    return await target.rest.request<Live>('GET', path);
  } catch (error) {
    if (error instanceof KubeApiError && error.code === 404) return undefined;
    throw error;
  }
}

/** Options of {@link uninstall}. */
export interface UninstallOptions {
  namespace: string;
  /** Also delete Kedge's CRDs, and with them every custom resource of those kinds. */
  deleteCrds: boolean;
}

/**
 * Deletes what `kedge install` created in reverse order — Services, Deployment, RBAC, ServiceAccount, the
 * leader Lease — and the Namespace unless custom resources live in it. Custom resources and CRDs stay unless
 * `deleteCrds`: then the finalizers of every custom resource are removed first (nothing runs them any more;
 * what Kustomizations applied stays, as with `flux uninstall`) and Kedge's own CRDs deleted (Flux's, not
 * labelled as Kedge's, stay).
 */
export async function uninstall(
  target: KubeTarget,
  objects: readonly KObject[],
  options: UninstallOptions,
  report: InstallReport,
): Promise<void> {
  const { namespace } = options;
  const owned = objects
    .filter((o) => o.kind !== 'CustomResourceDefinition' && o.kind !== 'Namespace')
    .reverse();
  report.progress('deleting the Deployment, Services, RBAC and ServiceAccount');
  for (const object of owned) await deleteOne(target, object, report);
  await deleteOne(
    target,
    {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: InstallNames.lease, namespace },
    },
    report,
  );
  if (options.deleteCrds)
    await deleteCrds(
      target,
      objects.filter((o) => o.kind === 'CustomResourceDefinition'),
      report,
    );
  const remaining = await customResourcesIn(target, namespace);
  if (remaining > 0)
    report.object(`Namespace/${namespace}`, 'kept', `it holds ${remaining} custom resource(s)`);
  else
    await deleteOne(target, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } }, report);
}

async function deleteOne(target: KubeTarget, object: KObject, report: InstallReport): Promise<void> {
  const id = identity(object);
  const resource = await target.discovery.resourceFor(id.apiVersion, id.kind);
  const path = resourcePath(resource, resource.namespaced ? id.namespace : undefined, id.name);
  try {
    await target.rest.request('DELETE', path, {
      body: { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background' },
    });
    report.object(objectLabel(id), 'deleted');
  } catch (error) {
    if (!(error instanceof KubeApiError && error.code === 404)) throw error;
    report.object(objectLabel(id), 'not found');
  }
}

/** Custom resources of Kedge's kinds in `namespace` (0 when the CRDs are gone). */
async function customResourcesIn(target: KubeTarget, namespace: string): Promise<number> {
  let count = 0;
  for (const r of kindResources().filter((k) => k.group !== '')) {
    const path = `/apis/${r.group}/${r.versions[0]}/namespaces/${namespace}/${r.plural}`;
    const list = await retryTransient(() => target.rest.request<{ items: unknown[] }>('GET', path)).catch(
      (error: unknown) => {
        if (error instanceof KubeApiError && error.code === 404) return { items: [] };
        throw error;
      },
    );
    count += list.items.length;
  }
  return count;
}

async function deleteCrds(
  target: KubeTarget,
  crds: readonly KObject[],
  report: InstallReport,
): Promise<void> {
  for (const crd of crds) {
    const name = crd.metadata.name;
    const path = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`;
    const live = await read(target, path);
    if (!live) {
      report.object(`CustomResourceDefinition/${name}`, 'not found');
      continue;
    }
    if (live.metadata.labels?.[CrdPartOfLabel] !== 'kedge') {
      report.object(`CustomResourceDefinition/${name}`, 'kept', 'not created by Kedge (Flux?)');
      continue;
    }
    const spec = crd.spec as { group: string; versions: { name: string }[]; names: { plural: string } };
    const collection = `/apis/${spec.group}/${spec.versions[0]!.name}/${spec.names.plural}`;
    const items = (await retryTransient(() => target.rest.request<{ items: KObject[] }>('GET', collection)))
      .items;
    for (const item of items.filter((i) => (i.metadata.finalizers ?? []).length > 0)) {
      await target.rest.request(
        'PATCH',
        `/apis/${spec.group}/${spec.versions[0]!.name}/namespaces/${item.metadata.namespace}/${spec.names.plural}/${item.metadata.name}`,
        {
          contentType: 'application/merge-patch+json',
          body: { metadata: { finalizers: null } },
        },
      );
    }
    await deleteOne(
      target,
      { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name } },
      report,
    );
    if (items.length > 0) report.progress(`deleted ${items.length} ${spec.names.plural} with their CRD`);
  }
}

function identity(object: KObject): ObjectIdentity {
  return {
    apiVersion: object.apiVersion,
    kind: object.kind,
    namespace: object.metadata.namespace ?? '',
    name: object.metadata.name,
  };
}

/**
 * Retries what the API server refuses for a moment: 429 and 503 (a CRD's storage "(re)initializing" right after
 * the CRD was written), for up to about 30 s.
 */
async function retryTransient<T>(request: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await request();
    } catch (error) {
      const transient = error instanceof KubeApiError && (error.code === 429 || error.code === 503);
      if (!transient || attempt >= 30) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }
}
