import { parseAllDocuments, stringify } from 'yaml';

/** One object of a release manifest that an upgrade would create, change or delete. */
export interface ManifestChange {
  action: 'created' | 'configured' | 'deleted';
  /** `Kind/namespace/name` (`Kind/name` without a namespace). */
  subject: string;
  /** YAML before and after (Secrets' data and stringData masked). */
  before?: string;
  after?: string;
}

type Doc = {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  data?: unknown;
  stringData?: unknown;
};

function objectsOf(manifest: string, namespace: string): Map<string, Doc> {
  const out = new Map<string, Doc>();
  for (const doc of parseAllDocuments(manifest)) {
    const obj = doc.toJS() as Doc | null;
    if (!obj?.kind || !obj.metadata?.name) continue;
    out.set(`${obj.kind}/${obj.metadata.namespace ?? namespace}/${obj.metadata.name}`, obj);
  }
  return out;
}

/** Secret values never leave: each becomes `***`, or `*** (changed)` where it differs from `other`'s. */
function masked(obj: Doc, other: Doc | undefined): Doc {
  if (obj.kind !== 'Secret') return obj;
  const mask = (field: 'data' | 'stringData') => {
    const values = obj[field] as Record<string, unknown> | undefined;
    if (!values || typeof values !== 'object') return {};
    const theirs = (other?.[field] ?? {}) as Record<string, unknown>;
    const out = Object.fromEntries(
      Object.keys(values).map((k) => [k, other && theirs[k] !== values[k] ? '*** (changed)' : '***']),
    );
    return { [field]: out };
  };
  return { ...obj, ...mask('data'), ...mask('stringData') };
}

/**
 * What an upgrade would change: the objects of the release manifest now deployed (`current`, empty when there
 * is no release) against the manifest the upgrade would apply (`next`), per object, sorted by subject.
 */
export function diffManifests(current: string, next: string, namespace: string): ManifestChange[] {
  const before = objectsOf(current, namespace);
  const after = objectsOf(next, namespace);
  const changes: ManifestChange[] = [];
  for (const [subject, obj] of after) {
    const old = before.get(subject);
    if (!old) changes.push({ action: 'created', subject, after: stringify(masked(obj, undefined)) });
    else if (stringify(old) !== stringify(obj))
      changes.push({
        action: 'configured',
        subject,
        before: stringify(masked(old, undefined)),
        after: stringify(masked(obj, old)),
      });
  }
  for (const [subject, obj] of before)
    if (!after.has(subject))
      changes.push({ action: 'deleted', subject, before: stringify(masked(obj, undefined)) });
  return changes.sort((a, b) => (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0));
}
