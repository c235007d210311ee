import { parse } from 'yaml';
import { HelmVersionConstraint, compareChartVersions } from './version-constraint.ts';

/** One chart version of an index, as Helm's `repo.ChartVersion` (metadata plus urls, digest, created). */
export interface IndexChartVersion {
  name: string;
  version: string;
  urls?: string[];
  digest?: string;
  created?: string;
  apiVersion?: string;
  [field: string]: unknown;
}

/** A chart repository index (`index.yaml`) after Helm's loading rules. */
export interface RepositoryIndex {
  apiVersion: string;
  generated?: string;
  entries: Record<string, IndexChartVersion[]>;
  [field: string]: unknown;
}

/** The index is not one Helm would load; the message says why. */
export class IndexError extends Error {
  override readonly name = 'IndexError';
}

/** The chart or version asked for is not in the index (a spec change or a new publication fixes it). */
export class ChartReferenceError extends Error {
  override readonly name = 'ChartReferenceError';
}

const CHART_NAME = /^[A-Za-z0-9._-]+$/;

/**
 * Loads an index as Helm and Flux do: JSON or YAML, `apiVersion` required, versions that are not valid charts
 * (no name, a version that is not semver) dropped, each chart's versions sorted newest first.
 */
export function loadIndex(bytes: Buffer | string): RepositoryIndex {
  const text = bytes.toString();
  if (text.trim() === '') throw new IndexError('empty index.yaml file');
  let document: unknown;
  try {
    document = parse(text, { maxAliasCount: 100 });
  } catch (error) {
    throw new IndexError(`index.yaml is not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  if (!document || typeof document !== 'object' || Array.isArray(document))
    throw new IndexError('index.yaml is not a mapping with apiVersion and entries');
  const index = document as RepositoryIndex;
  if (typeof index.apiVersion !== 'string' || index.apiVersion === '')
    throw new IndexError('no API version specified in index.yaml');
  const entries = (index.entries ?? {}) as unknown;
  if (typeof entries !== 'object' || entries === null || Array.isArray(entries))
    throw new IndexError("index.yaml 'entries' is not a mapping of chart names to versions");
  const loaded: Record<string, IndexChartVersion[]> = {};
  for (const [name, versions] of Object.entries(entries as Record<string, unknown>)) {
    if (!Array.isArray(versions))
      throw new IndexError(`index.yaml entry '${name}' is not a list of chart versions`);
    loaded[name] = versions
      .filter((v): v is IndexChartVersion => isValidChartVersion(v))
      .map((v) => ({ ...v, apiVersion: v.apiVersion ?? 'v1' }))
      .sort((a, b) => compareChartVersions(b.version, a.version));
  }
  index.entries = loaded;
  return index;
}

function isValidChartVersion(v: unknown): boolean {
  if (!v || typeof v !== 'object') return false;
  const { name, version } = v as { name?: unknown; version?: unknown };
  return (
    typeof name === 'string' &&
    CHART_NAME.test(name) &&
    typeof version === 'string' &&
    HelmVersionConstraint.parseVersion(version) !== undefined
  );
}

/**
 * The chart version Helm's repository client would pick: an exact version string match first, else the
 * highest version satisfying `range` (`*` or empty: the latest stable), ties broken by `created`.
 */
export function selectChartVersion(
  index: RepositoryIndex,
  name: string,
  range: string | undefined,
): IndexChartVersion {
  const versions = index.entries[name];
  if (!versions)
    throw new ChartReferenceError(`no chart name found: '${name}' is not in the repository index`);
  if (versions.length === 0) throw new ChartReferenceError(`no chart version found for '${name}'`);
  const wanted = range?.trim() ?? '';
  const exact = wanted ? versions.find((v) => v.version === wanted) : undefined;
  if (exact) return exact;
  const constraint = HelmVersionConstraint.parse(wanted || '*');
  const matching = versions.filter((v) => constraint.check(v.version));
  if (matching.length === 0)
    throw new ChartReferenceError(
      `no '${name}' chart with version matching '${wanted || '*'}' found (latest: ${versions[0]!.version})`,
    );
  return matching.reduce((best, v) => {
    const order = compareChartVersions(v.version, best.version);
    if (order !== 0) return order > 0 ? v : best;
    return Date.parse(v.created ?? '') > Date.parse(best.created ?? '') ? v : best;
  });
}
