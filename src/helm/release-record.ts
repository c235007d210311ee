import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import type { KubeRest } from '../apply/kube-rest.ts';
import type { Snapshot } from '../api/helmrelease.ts';
import { configDigest } from './release-values.ts';

/** A Helm release as Helm stores it (`sh.helm.release.v1.<name>.v<version>` Secrets), the fields Kedge reads. */
export interface ReleaseRecord {
  name: string;
  namespace: string;
  version: number;
  /** `deployed`, `failed`, `superseded`, `uninstalled`, `pending-install`, `pending-upgrade`, `pending-rollback`, … */
  status: string;
  description: string;
  chartName: string;
  chartVersion: string;
  appVersion?: string;
  config: Record<string, unknown>;
  manifest: string;
  firstDeployed: string;
  lastDeployed: string;
  deleted?: string;
  testHooks: Record<string, { lastStarted?: string; lastCompleted?: string; phase?: string }>;
  /** `sha256:` of the stored release document. */
  digest: string;
}

interface StoredHook {
  name?: string;
  events?: string[];
  last_run?: { started_at?: string; completed_at?: string; phase?: string };
}

interface StoredRelease {
  name: string;
  namespace: string;
  version: number;
  info?: {
    status?: string;
    description?: string;
    first_deployed?: string;
    last_deployed?: string;
    deleted?: string;
  };
  chart?: { metadata?: { name?: string; version?: string; appVersion?: string } };
  config?: Record<string, unknown> | null;
  manifest?: string;
  hooks?: StoredHook[];
}

/** Decodes the `release` field of a Helm release Secret (base64 of gzip of JSON; the API adds one base64 more). */
export function decodeRelease(secretData: string): ReleaseRecord {
  const inner = Buffer.from(secretData, 'base64').toString('utf8');
  let raw = Buffer.from(inner, 'base64');
  if (raw[0] === 0x1f && raw[1] === 0x8b) raw = gunzipSync(raw);
  const text = raw.toString('utf8');
  const stored = JSON.parse(text) as StoredRelease;
  const testHooks: ReleaseRecord['testHooks'] = {};
  for (const hook of stored.hooks ?? []) {
    const run = hook.last_run;
    // Only tests that ran: an untested release has none (Flux's `HasBeenTested`).
    if (!hook.events?.includes('test') || !hook.name || !isSet(run?.started_at)) continue;
    testHooks[hook.name] = {
      ...(isSet(run?.started_at) ? { lastStarted: run.started_at } : {}),
      ...(isSet(run?.completed_at) ? { lastCompleted: run.completed_at } : {}),
      ...(run?.phase ? { phase: run.phase } : {}),
    };
  }
  return {
    name: stored.name,
    namespace: stored.namespace,
    version: stored.version,
    status: stored.info?.status ?? 'unknown',
    description: stored.info?.description ?? '',
    chartName: stored.chart?.metadata?.name ?? '',
    chartVersion: stored.chart?.metadata?.version ?? '',
    appVersion: stored.chart?.metadata?.appVersion || undefined,
    config: stored.config ?? {},
    manifest: stored.manifest ?? '',
    firstDeployed: stored.info?.first_deployed ?? '',
    lastDeployed: stored.info?.last_deployed ?? '',
    ...(isSet(stored.info?.deleted) ? { deleted: stored.info.deleted } : {}),
    testHooks,
    digest: `sha256:${createHash('sha256').update(text).digest('hex')}`,
  };
}

/** Go's zero time marks an unset timestamp in Helm's JSON. */
function isSet(time: string | undefined): time is string {
  return !!time && !time.startsWith('0001-01-01');
}

/** Every stored release of `name` in `namespace`, oldest first (Helm's owner=helm, name=… labels). */
export async function listReleases(
  rest: KubeRest,
  namespace: string,
  name: string,
): Promise<ReleaseRecord[]> {
  const selector = encodeURIComponent(`owner=helm,name=${name}`);
  const list = await rest.request<{ items: { data?: Record<string, string> }[] }>(
    'GET',
    `/api/v1/namespaces/${namespace}/secrets?labelSelector=${selector}`,
  );
  const records: ReleaseRecord[] = [];
  for (const item of list.items) {
    const data = item.data?.['release'];
    if (data) records.push(decodeRelease(data));
  }
  return records.sort((a, b) => a.version - b.version);
}

/** The latest stored release of `name`, or undefined when there is none. */
export async function lastRelease(
  rest: KubeRest,
  namespace: string,
  name: string,
): Promise<ReleaseRecord | undefined> {
  return (await listReleases(rest, namespace, name)).at(-1);
}

/** The release as a `status.history` entry. */
export function snapshotOf(record: ReleaseRecord): Snapshot {
  return {
    apiVersion: 'helm.toolkit.fluxcd.io/v2',
    digest: record.digest,
    name: record.name,
    namespace: record.namespace,
    version: record.version,
    status: record.status,
    chartName: record.chartName,
    chartVersion: record.chartVersion,
    ...(record.appVersion ? { appVersion: record.appVersion } : {}),
    configDigest: configDigest(record.config),
    firstDeployed: record.firstDeployed,
    lastDeployed: record.lastDeployed,
    ...(record.deleted ? { deleted: record.deleted } : {}),
    ...(Object.keys(record.testHooks).length > 0 ? { testHooks: record.testHooks } : {}),
  };
}

/** `namespace/name.vN`, Flux's full release name in messages. */
export function fullReleaseName(r: { namespace: string; name: string; version: number }): string {
  return `${r.namespace}/${r.name}.v${r.version}`;
}

/** `chart@version`, Flux's versioned chart name in messages. */
export function versionedChartName(r: { chartName: string; chartVersion: string }): string {
  return `${r.chartName}@${r.chartVersion}`;
}
