import { readdir, readFile, realpath, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isMap, isScalar, parseAllDocuments, parseDocument } from 'yaml';
import { isOverlayDirName } from './overlay-dir.ts';
import type { KustomizeOverlay } from './overlay.ts';

/** The file names kustomize recognises, in its order of preference. */
export const KustomizationFileNames = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'] as const;

/** A YAML file that cannot be decoded, a bad component path, or an unreadable kustomization file. */
export class GenerateError extends Error {
  override name = 'GenerateError';
  readonly reason = 'BuildFailed';
}

/** Whether a kustomization file was written from scratch or an existing one was amended. */
export type GenerateAction = 'created' | 'unchanged';

/**
 * Prepares `dir` for `kustomize build` exactly as Flux's generator does. Without a kustomization file it writes
 * `kustomization.yaml` listing, in lexical walk order, every `.yaml`/`.yml` file below `dir` and every
 * sub-directory holding its own kustomization file (not descended into); other files and Kedge's private overlay
 * directories (`.kedge-overlay-*`) are ignored, and a YAML file that does not decode fails with its path relative
 * to `root`. Then the overlay fields are written into the kustomization file. `commonMetadata` is not written:
 * Flux sets it on the objects after the build.
 *
 * The result is written into `into`: by default `dir` itself (edited in place: call it on a copy), or a private
 * directory that mirrors `dir` (see `makeOverlayDir`), where the file is created anew and never written through
 * a link, so `dir` and everything under it are only read.
 */
export async function generateKustomization(root: string, dir: string, overlay: KustomizeOverlay = {}, into: string = dir): Promise<GenerateAction> {
  const file = await findKustomizationFile(dir);
  if (file) await assertInside(root, file);
  let action: GenerateAction = 'unchanged';
  let text: string;
  let source: string;
  if (file) {
    text = await readFile(file, 'utf8');
    source = file;
  } else {
    const resources = await scanResources(root, dir, dir);
    const kus: Record<string, unknown> = { apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization' };
    if (resources.length > 0) kus.resources = resources;
    text = JSON.stringify(kus);
    source = path.join(dir, 'kustomization.yaml');
    action = 'created';
  }
  const rewritten = await applyOverlay(root, dir, text, path.relative(root, source).split(path.sep).join('/'), overlay);
  await writeFile(path.join(into, path.basename(source)), rewritten, into === dir ? undefined : { flag: 'wx' });
  return action;
}

/** The kustomization file in `dir`, if any. */
export async function findKustomizationFile(dir: string): Promise<string | undefined> {
  for (const name of KustomizationFileNames) {
    const candidate = path.join(dir, name);
    const info = await stat(candidate).catch(() => undefined);
    if (info?.isFile()) return candidate;
  }
  return undefined;
}

/** A kustomization file that is a symlink out of the artifact would be read, and rewritten, outside it. */
async function assertInside(root: string, file: string): Promise<void> {
  const [realRoot, real] = await Promise.all([realpath(root), realpath(file)]);
  if (real !== realRoot && !real.startsWith(realRoot + path.sep)) {
    const where = path.relative(root, file).split(path.sep).join('/');
    throw new GenerateError(`${where} is a symlink to a file outside the artifact root`);
  }
}

async function scanResources(root: string, base: string, dir: string): Promise<string[]> {
  const found: string[] = [];
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    if (isOverlayDirName(entry.name)) continue;
    const full = path.join(dir, entry.name);
    const rel = `./${path.relative(base, full).split(path.sep).join('/')}`;
    if (entry.isDirectory()) {
      if (await findKustomizationFile(full)) found.push(rel);
      else found.push(...(await scanResources(root, base, full)));
      continue;
    }
    if (!entry.isFile() || !/\.ya?ml$/.test(entry.name)) continue;
    const docs = parseAllDocuments(await readFile(full, 'utf8'));
    const docList = Array.isArray(docs) ? docs : [docs];
    for (const doc of docList) {
      const problem = doc.errors[0]?.message ?? (isMappingOrEmpty(doc.contents) ? undefined : 'document is not a mapping');
      if (problem) {
        const where = path.relative(root, full).split(path.sep).join('/');
        throw new GenerateError(`failed to decode Kubernetes YAML from ${where}: ${problem.split('\n')[0]}`);
      }
    }
    found.push(rel);
  }
  return found;
}

function isMappingOrEmpty(contents: unknown): boolean {
  if (contents === null || contents === undefined) return true;
  if (isScalar(contents)) return contents.value === null;
  return isMap(contents);
}

/** The kustomization `text` (of the file `where`) with the overlay fields written in. */
async function applyOverlay(root: string, dir: string, text: string, where: string, overlay: KustomizeOverlay): Promise<string> {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new GenerateError(`failed to parse ${where}: ${doc.errors[0]?.message.split('\n')[0]}`);
  const kus = (doc.toJS() ?? {}) as Record<string, unknown>;

  if (overlay.targetNamespace) kus.namespace = overlay.targetNamespace;
  if (overlay.namePrefix) kus.namePrefix = overlay.namePrefix;
  if (overlay.nameSuffix) kus.nameSuffix = overlay.nameSuffix;
  if (overlay.patches?.length) kus.patches = [...asArray(kus.patches), ...overlay.patches.map(dropUndefined)];
  if (overlay.components?.length) kus.components = [...asArray(kus.components), ...(await components(root, dir, overlay))];
  if (overlay.images?.length) {
    const images = asArray(kus.images) as { name?: string }[];
    for (const image of overlay.images) {
      const index = images.findIndex((i) => i.name === image.name);
      if (index >= 0) images[index] = dropUndefined(image);
      else images.push(dropUndefined(image));
    }
    kus.images = images;
  }
  // kustomize refuses a kustomization without any field; Flux's rewrite always leaves one.
  if (Object.keys(kus).every((key) => key === 'apiVersion' || key === 'kind')) kus.buildMetadata = ['originAnnotations'];
  return JSON.stringify(kus);
}

async function components(root: string, dir: string, overlay: KustomizeOverlay): Promise<string[]> {
  const kept: string[] = [];
  for (const component of overlay.components ?? []) {
    if (path.isAbsolute(component) || component.includes('://')) {
      throw new GenerateError(`component path '${component}' must be local and relative`);
    }
    const exists = await stat(path.join(dir, component)).then(
      () => true,
      () => false,
    );
    if (!exists && overlay.ignoreMissingComponents) continue;
    if (!exists) {
      const rel = path.relative(root, path.join(dir, component)).split(path.sep).join('/');
      throw new GenerateError(`component '${component}' not found at ${rel}`);
    }
    kept.push(component);
  }
  return kept;
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? [...(value as unknown[])] : [];
}

function dropUndefined<T extends object>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
