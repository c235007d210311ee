import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { releaseNameOf, type HelmRelease } from '../../api/helmrelease.ts';
import type { KubeTarget } from '../../apply/kube-client.ts';
import { writePostRendererPlugin } from '../../helm/post-renderer.ts';
import { dryRunUpgrade } from '../../helm/release-actions.ts';
import { diffManifests, type ManifestChange } from '../../helm/release-diff.ts';
import { lastRelease } from '../../helm/release-record.ts';
import { composeValues } from '../../helm/release-values.ts';
import { locateRenderer } from '../../kustomize/renderer-binary.ts';
import type { StoreKubeConfigOptions } from '../../store/kubernetes/store-kubeconfig.ts';
import type { Store } from '../../store/store.ts';
import { chartArtifact, chartFile, chartSourceRef } from './chart-source.ts';
import { releaseCluster } from './release-cluster.ts';

/**
 * What the next upgrade of `hr` would change: its chart artifact and values rendered by `helm upgrade
 * --dry-run=server` (through the same post-renderer), compared object by object with the manifest of the
 * release deployed now. Nothing is written anywhere.
 */
export async function previewUpgrade(
  store: Store,
  hr: HelmRelease,
  options: { artifactRoot?: string; cluster: StoreKubeConfigOptions },
): Promise<ManifestChange[]> {
  const spec = hr.spec!;
  const namespace = hr.metadata.namespace ?? 'default';
  const artifact = await chartArtifact(store, chartSourceRef(hr), 0);
  const workDir = await mkdtemp(path.join(tmpdir(), 'kedge-hr-diff-'));
  const targets = new Map<string, KubeTarget>();
  try {
    const cluster = await releaseCluster(store, hr, options.cluster, workDir, targets);
    const chart = await chartFile(artifact, options.artifactRoot, workDir);
    const values = await composeValues(store, namespace, spec);
    await writePostRendererPlugin(cluster.connection.plugins!, await locateRenderer(), {
      owner: { name: hr.metadata.name, namespace },
      postRenderers: spec.postRenderers,
      commonMetadata: spec.commonMetadata,
    });
    const target = {
      name: releaseNameOf(hr),
      namespace: spec.targetNamespace ?? namespace,
      connection: cluster.connection,
      workDir,
    };
    const next = await dryRunUpgrade(spec, target, { chart, values, postRender: true });
    const current = await lastRelease(cluster.target.rest, target.namespace, target.name);
    return diffManifests(
      current && current.status !== 'uninstalled' ? current.manifest : '',
      next,
      target.namespace,
    );
  } finally {
    for (const t of targets.values()) t.close();
    await rm(workDir, { recursive: true, force: true });
  }
}
