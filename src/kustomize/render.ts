import { cp, mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import type { KObject } from '../api/meta.ts';
import { BuildError, kustomizeBuild, splitDocuments } from './build.ts';
import { generateKustomization } from './generate.ts';
import type { KustomizeOverlay } from './overlay.ts';
import type { RenderCache } from './render-cache.ts';
import { resolveInside } from './safe-extract.ts';
import { mergeVariables, substituteDocument, validateVariableNames, type Substitutions } from './substitute.ts';

/** What to render and how. */
export interface RenderOptions {
  /** The extracted artifact. Never modified: the render works on a copy. */
  root: string;
  /** `spec.path`, relative to the root. Default: the root. */
  path?: string;
  overlay?: KustomizeOverlay;
  /** `spec.postBuild` inputs; leave undefined when the Kustomization has no `postBuild`. */
  substitutions?: Substitutions;
  /** With `digest`, a hit returns the cached objects without building. */
  cache?: RenderCache;
  /** The artifact digest (`sha256:<hex>`), the cache's notion of "same revision". */
  digest?: string;
  /** Where the working copy is made (the engine's `<data-dir>/tmp`). Default: the OS temp dir. */
  tmpRoot?: string;
}

/**
 * Renders a Flux Kustomization the way kustomize-controller does: generate a kustomization file when
 * `path` has none, write the overlay fields into it, build with kustomize confined to the artifact root
 * (see `kustomizeBuild`: nothing outside the artifact is read, whatever the kustomization says),
 * substitute post-build variables in each object's YAML, then set `commonMetadata` on every object.
 * Returns the objects in kustomize's order. Throws `BuildError`, `RendererUnavailableError`, `GenerateError`,
 * `SubstitutionError`, `PathEscapeError` or `PathNotFoundError`, each with a `reason` and a message naming
 * files relative to the artifact root.
 */
export async function renderKustomization(opts: RenderOptions): Promise<KObject[]> {
  const key = opts.digest
    ? { digest: opts.digest, path: opts.path ?? '', overlay: opts.overlay, substitutions: opts.substitutions }
    : undefined;
  const cached = key && opts.cache?.get(key);
  if (cached) return cached;

  const vars = opts.substitutions ? mergeVariables(opts.substitutions) : {};
  validateVariableNames(vars);

  const work = await realpath(await mkdtemp(path.join(opts.tmpRoot ?? tmpdir(), 'kedge-render-')));
  try {
    await cp(opts.root, work, { recursive: true, verbatimSymlinks: true });
    const dir = await resolveInside(work, opts.path ?? '');
    await generateKustomization(work, dir, opts.overlay);
    const stream = await kustomizeBuild(work, dir);
    const objects = splitDocuments(stream).map((doc) => finish(doc, vars, opts));
    if (key) opts.cache?.set(key, objects);
    return objects;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

function finish(doc: string, vars: Record<string, string>, opts: RenderOptions): KObject {
  const raw = parse(doc) as Partial<KObject> | null;
  const name = raw?.metadata?.name;
  if (!raw || !raw.apiVersion || !raw.kind || !name) {
    throw new BuildError(`failed to decode Kubernetes apiVersion, kind and name from: ${doc.trim().slice(0, 200)}`);
  }
  const obj = opts.substitutions
    ? substituteDocument(doc, vars, { strict: opts.substitutions.strict, where: `${raw.kind}/${name}` })
    : (raw as KObject);
  const common = opts.overlay?.commonMetadata;
  if (common?.labels && Object.keys(common.labels).length > 0) {
    obj.metadata.labels = { ...obj.metadata.labels, ...common.labels };
  }
  if (common?.annotations && Object.keys(common.annotations).length > 0) {
    obj.metadata.annotations = { ...obj.metadata.annotations, ...common.annotations };
  }
  return obj;
}
