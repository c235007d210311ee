import { createHash } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import type { HelmReleaseSpec } from '../api/helmrelease.ts';
import { canonicalJson } from '../store/canonical-json.ts';

/** The name of the postrenderer/v1 plugin Kedge writes for each release action. */
export const PostRendererPluginName = 'kedge-postrender';
/** Labels helm-controller puts on every object of a release it manages. */
export const ReleaseNameLabel = 'helm.toolkit.fluxcd.io/name';
export const ReleaseNamespaceLabel = 'helm.toolkit.fluxcd.io/namespace';

/** Everything the post-render step of one release applies, in Flux's order. */
export interface PostRenderInput {
  postRenderers: HelmReleaseSpec['postRenderers'];
  commonMetadata: HelmReleaseSpec['commonMetadata'];
  /** The HelmRelease: its origin labels go on every rendered object. */
  owner: { name: string; namespace: string };
}

/**
 * Writes a Helm 4 postrenderer/v1 plugin (subprocess runtime) into `pluginsDir/kedge-postrender`: it saves
 * helm's rendered manifests next to a generated kustomization.yaml holding the spec's `postRenderers`
 * (kustomize patches and images, in order), `commonMetadata` and helm-controller's origin labels, and prints
 * what Kedge's confined kustomize renderer (`kustomize-build`) makes of them. Helm calls it through
 * `--post-renderer kedge-postrender` with `HELM_PLUGINS=pluginsDir`.
 */
export async function writePostRendererPlugin(
  pluginsDir: string,
  renderer: string,
  input: PostRenderInput,
): Promise<void> {
  const dir = path.join(pluginsDir, PostRendererPluginName);
  const work = path.join(dir, 'work');
  await mkdir(work, { recursive: true });
  const script = path.join(dir, 'render.sh');
  await writeFile(
    path.join(dir, 'plugin.yaml'),
    stringify({
      apiVersion: 'v1',
      type: 'postrenderer/v1',
      name: PostRendererPluginName,
      version: '1.0.0',
      runtime: 'subprocess',
      runtimeConfig: { platformCommand: [{ command: '/bin/sh', args: [script] }] },
    }),
  );
  // An empty render (a chart of hooks only) passes through: kustomize refuses a kustomization without objects.
  await writeFile(
    script,
    [
      '#!/bin/sh',
      'set -e',
      `cat > ${shellQuote(path.join(work, 'helm-output.yaml'))}`,
      `if ! grep -q '[^[:space:]-]' ${shellQuote(path.join(work, 'helm-output.yaml'))}; then exit 0; fi`,
      `exec ${shellQuote(renderer)} ${shellQuote(work)} .`,
      '',
    ].join('\n'),
  );
  await chmod(script, 0o755);
  await writeFile(path.join(work, 'kustomization.yaml'), stringify(kustomizationOf(input)));
}

/** The kustomization.yaml of the post-render step. */
export function kustomizationOf(input: PostRenderInput): Record<string, unknown> {
  const patches = (input.postRenderers ?? []).flatMap((r) => r.kustomize?.patches ?? []);
  const images = (input.postRenderers ?? []).flatMap((r) => r.kustomize?.images ?? []);
  const labels = {
    ...(input.commonMetadata?.labels ?? {}),
    [ReleaseNameLabel]: input.owner.name,
    [ReleaseNamespaceLabel]: input.owner.namespace,
  };
  return {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    resources: ['helm-output.yaml'],
    ...(patches.length > 0 ? { patches } : {}),
    ...(images.length > 0 ? { images } : {}),
    labels: [{ pairs: labels, includeSelectors: false, includeTemplates: false }],
    ...(input.commonMetadata?.annotations ? { commonAnnotations: input.commonMetadata.annotations } : {}),
  };
}

/** `sha256:` of the post-renderers, as `status.observedPostRenderersDigest` (empty when there are none). */
export function postRenderersDigest(spec: HelmReleaseSpec): string | undefined {
  return spec.postRenderers ? digestOf(spec.postRenderers) : undefined;
}

/** `sha256:` of the common metadata, as `status.observedCommonMetadataDigest`. */
export function commonMetadataDigest(spec: HelmReleaseSpec): string | undefined {
  return spec.commonMetadata ? digestOf(spec.commonMetadata) : undefined;
}

function digestOf(value: unknown): string {
  return `sha256:${createHash('sha256').update(canonicalJson(value)).digest('hex')}`;
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
