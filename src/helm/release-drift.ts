import { parseAllDocuments } from 'yaml';
import type { KubeTarget } from '../apply/kube-client.ts';
import { manifestDrift } from '../apply/manifest-drift.ts';
import type { KubeObject } from '../apply/object-id.ts';

/**
 * The field manager of drift corrections, helm-controller's: not helm's own, so the fields helm owns and the
 * manifest lacks (its ownership labels and annotations) stay where they are.
 */
export const DriftFieldManager = 'helm-controller';

/** One object of a release that differs from its manifest in the cluster. */
export interface ReleaseDrift {
  /** `Kind/namespace/name` (`Kind/name` when cluster-scoped). */
  subject: string;
  deleted: boolean;
  /** Dotted paths of the manifest's fields the live object does not have. */
  fields: string[];
  desired: KubeObject;
  path: string;
}

/** `driftDetection.ignore` rules: JSON pointers, for every object or those a target selects (kind, name, namespace). */
export interface DriftIgnoreRule {
  paths: string[];
  target?: { kind?: string; name?: string; namespace?: string; group?: string; version?: string };
}

/**
 * The objects of a release manifest whose manifest fields the cluster no longer has (changed or deleted), after
 * the ignore rules. Compared as a subset: defaults and other managers' fields never count.
 */
export async function detectReleaseDrift(
  target: KubeTarget,
  release: { manifest: string; name: string; namespace: string },
  ignore: readonly DriftIgnoreRule[] = [],
): Promise<ReleaseDrift[]> {
  const { manifest, namespace } = release;
  const drifts: ReleaseDrift[] = [];
  for (const doc of parseAllDocuments(manifest)) {
    const desired = doc.toJS() as KubeObject | null;
    if (!desired?.kind || !desired.apiVersion || !desired.metadata?.name) continue;
    const resource = await target.discovery.resourceFor(desired.apiVersion, desired.kind);
    const ns = resource.namespaced ? (desired.metadata.namespace ?? namespace) : undefined;
    if (ns) desired.metadata.namespace = ns;
    // What helm adds when it applies: a re-created object is still the release's.
    desired.metadata.labels = {
      ...(desired.metadata.labels as Record<string, string> | undefined),
      'app.kubernetes.io/managed-by': 'Helm',
    };
    desired.metadata.annotations = {
      ...(desired.metadata.annotations as Record<string, string> | undefined),
      'meta.helm.sh/release-name': release.name,
      'meta.helm.sh/release-namespace': namespace,
    };
    const path = await target.discovery.pathFor(desired.apiVersion, desired.kind, ns, desired.metadata.name);
    const subject = `${desired.kind}/${ns ? `${ns}/` : ''}${desired.metadata.name}`;
    const live = await target.rest.request<KubeObject>('GET', path).catch((error: unknown) => {
      if ((error as { code?: number }).code === 404) return undefined;
      throw error;
    });
    if (!live) {
      drifts.push({ subject, deleted: true, fields: [], desired, path });
      continue;
    }
    const ignored = ignoredPaths(ignore, desired);
    const fields = manifestDrift(desired, live).filter(
      (f) => !ignored.some((p) => f === p || f.startsWith(`${p}.`) || f.startsWith(`${p}[`)),
    );
    if (fields.length > 0) drifts.push({ subject, deleted: false, fields, desired, path });
  }
  return drifts;
}

/** Re-applies each drifted object's manifest with server-side apply as helm (forced), re-creating deleted ones. */
export async function correctReleaseDrift(
  target: KubeTarget,
  drifts: readonly ReleaseDrift[],
): Promise<void> {
  for (const drift of drifts) {
    await target.rest.request('PATCH', drift.path, {
      body: drift.desired,
      contentType: 'application/apply-patch+yaml',
      query: { fieldManager: DriftFieldManager, force: 'true' },
    });
  }
}

/** The ignore rules' JSON pointers that apply to `object`, as dotted paths (`/spec/replicas` → `spec.replicas`). */
function ignoredPaths(rules: readonly DriftIgnoreRule[], object: KubeObject): string[] {
  const group = object.apiVersion.includes('/')
    ? object.apiVersion.slice(0, object.apiVersion.indexOf('/'))
    : '';
  return rules
    .filter((rule) => {
      const t = rule.target;
      if (!t) return true;
      return (
        (t.kind === undefined || t.kind === object.kind) &&
        (t.name === undefined || t.name === object.metadata.name) &&
        (t.namespace === undefined || t.namespace === object.metadata.namespace) &&
        (t.group === undefined || t.group === group)
      );
    })
    .flatMap((rule) =>
      rule.paths.map((p) =>
        p
          .replace(/^\//, '')
          .split('/')
          .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'))
          .join('.'),
      ),
    );
}
