import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse as parseYaml } from 'yaml';
import { Conditions } from '../../api/conditions.ts';
import type { Artifact } from '../../api/gitrepository.ts';
import { HelmReasons, HelmReleaseKind, type HelmRelease } from '../../api/helmrelease.ts';
import type { KObject, ObjectRef } from '../../api/meta.ts';
import { refString } from '../../api/meta.ts';
import { runHelm, type HelmConnection } from '../../helm/helm-command.ts';
import { ReconcileError, WaitingError } from '../../runtime/errors.ts';
import type { Store } from '../../store/store.ts';

export const HelmChartKind = 'HelmChart';
export const OCIRepositoryKind = 'OCIRepository';
const SourceApiVersion = 'source.toolkit.fluxcd.io/v1';

/** The chart source of a HelmRelease: its HelmChart (`chart` template, or `chartRef`) or OCIRepository. */
export function chartSourceRef(hr: HelmRelease): ObjectRef {
  const spec = hr.spec!;
  const namespace = hr.metadata.namespace ?? 'default';
  if (spec.chartRef)
    return {
      kind: spec.chartRef.kind,
      namespace: spec.chartRef.namespace ?? namespace,
      name: spec.chartRef.name,
    };
  const sourceNamespace = spec.chart!.spec.sourceRef.namespace ?? namespace;
  return { kind: HelmChartKind, namespace: sourceNamespace, name: `${namespace}-${hr.metadata.name}` };
}

/**
 * Creates or updates the HelmChart of a `chart` template as helm-controller does: `<namespace>-<name>` in the
 * source's namespace, its spec from the template, labelled with the HelmRelease it belongs to.
 */
export async function reconcileChartTemplate(store: Store, hr: HelmRelease): Promise<ObjectRef> {
  const ref = chartSourceRef(hr);
  const template = hr.spec!.chart!;
  const t = template.spec;
  const desired: KObject = {
    apiVersion: SourceApiVersion,
    kind: HelmChartKind,
    metadata: {
      name: ref.name,
      namespace: ref.namespace,
      labels: {
        ...(template.metadata?.labels ?? {}),
        'helm.toolkit.fluxcd.io/name': hr.metadata.name,
        'helm.toolkit.fluxcd.io/namespace': hr.metadata.namespace ?? 'default',
      },
      ...(template.metadata?.annotations ? { annotations: template.metadata.annotations } : {}),
    },
    spec: {
      chart: t.chart,
      version: t.version ?? '*',
      sourceRef: { kind: t.sourceRef.kind, name: t.sourceRef.name },
      interval: t.interval ?? hr.spec!.interval,
      reconcileStrategy: t.reconcileStrategy ?? 'ChartVersion',
      ...(t.valuesFiles ? { valuesFiles: t.valuesFiles } : {}),
      ...(t.ignoreMissingValuesFiles !== undefined
        ? { ignoreMissingValuesFiles: t.ignoreMissingValuesFiles }
        : {}),
      ...(t.verify ? { verify: t.verify } : {}),
    },
  };
  try {
    await store.apply(desired);
  } catch (error) {
    throw new ReconcileError(
      HelmReasons.ArtifactFailed,
      `could not create HelmChart '${ref.namespace}/${ref.name}': ${(error as Error).message}`,
    );
  }
  return ref;
}

/** The chart source's current artifact; waits (the source watch enqueues) while it has none. */
export async function chartArtifact(store: Store, ref: ObjectRef, retryMs: number): Promise<Artifact> {
  const source = (await store.get(ref)) as
    | KObject<
        unknown,
        { artifact?: Artifact; conditions?: { type: string; status: string; message: string }[] }
      >
    | undefined;
  if (!source)
    throw new WaitingError(
      HelmReasons.ArtifactFailed,
      `could not get ${ref.kind} '${ref.namespace}/${ref.name}': not found`,
      retryMs,
    );
  const artifact = source.status?.artifact;
  if (!artifact) {
    const ready = source.status?.conditions?.find((c) => c.type === Conditions.Ready);
    const why = ready?.status === 'False' ? `: ${ready.message}` : '';
    throw new WaitingError(
      HelmReasons.ArtifactFailed,
      `${ref.kind} '${ref.namespace}/${ref.name}' is not ready${why}`,
      retryMs,
    );
  }
  return artifact;
}

/** The chart archive of an artifact on disk: this engine's storage when it has it, else downloaded into `dir`. */
export async function chartFile(
  artifact: Artifact,
  artifactRoot: string | undefined,
  dir: string,
  signal?: AbortSignal,
): Promise<string> {
  const local = artifactRoot ? path.resolve(artifactRoot, artifact.path) : undefined;
  const inRoot = local && artifactRoot && local.startsWith(path.resolve(artifactRoot) + path.sep);
  let file: string;
  if (
    inRoot &&
    (await access(local).then(
      () => true,
      () => false,
    ))
  )
    file = local;
  else {
    file = path.join(dir, 'chart.tgz');
    const where = new URL(artifact.url);
    const response = await fetch(artifact.url, { signal }).catch((error: unknown) => {
      throw new ReconcileError(
        HelmReasons.ArtifactFailed,
        `failed to download chart from ${where.origin}${where.pathname}: ${(error as Error).message}`,
      );
    });
    if (!response.ok || !response.body)
      throw new ReconcileError(
        HelmReasons.ArtifactFailed,
        `failed to download chart from ${where.origin}${where.pathname}: HTTP ${response.status}`,
      );
    await pipeline(Readable.fromWeb(response.body), createWriteStream(file));
  }
  const digest = await fileDigest(file);
  if (digest !== artifact.digest)
    throw new ReconcileError(
      HelmReasons.ArtifactFailed,
      `chart artifact digest mismatch: expected ${artifact.digest}, got ${digest}`,
    );
  return file;
}

async function fileDigest(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return `sha256:${hash.digest('hex')}`;
}

/** A chart's name and version, from its Chart.yaml. */
export interface ChartMetadata {
  name: string;
  version: string;
  appVersion?: string;
}

const metadataByDigest = new Map<string, ChartMetadata>();

/** `helm show chart` of the archive, remembered by artifact digest. */
export async function chartMetadata(
  file: string,
  digest: string,
  connection: HelmConnection,
): Promise<ChartMetadata> {
  const known = metadataByDigest.get(digest);
  if (known) return known;
  const text = await runHelm(['show', 'chart', file], connection).catch((error: unknown) => {
    throw new ReconcileError(HelmReasons.ArtifactFailed, `could not load chart: ${(error as Error).message}`);
  });
  const meta = parseYaml(text) as ChartMetadata;
  if (metadataByDigest.size > 1000) metadataByDigest.clear();
  metadataByDigest.set(digest, meta);
  return meta;
}

/** HelmReleases whose chart comes from `source` (chartRef, or the HelmChart of a chart template). */
export function usesSource(hr: HelmRelease, source: ObjectRef): boolean {
  return refString(chartSourceRef(hr)) === refString(source);
}

export { HelmReleaseKind };
