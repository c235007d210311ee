import { cp, mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import type { KObject } from '../api/meta.ts';
import { BuildError, kustomizeBuild, splitDocuments } from './build.ts';
import { generateKustomization, KustomizationFileNames } from './generate.ts';
import { isOverlayDirName, makeOverlayDir } from './overlay-dir.ts';
import type { KustomizeOverlay } from './overlay.ts';
import type { RenderCache } from './render-cache.ts';
import { resolveInside } from './safe-extract.ts';
import { Decryptor } from './sops/decryptor.ts';
import { decryptDocuments } from './sops/encrypted-objects.ts';
import { decryptSources, findEncryptedSources } from './sops/encrypted-sources.ts';
import { redactPlaintexts } from './sops/redact.ts';
import type { SopsKeys } from './sops/sops-keys.ts';
import { mergeVariables, substituteDocument, validateVariableNames, type Substitutions } from './substitute.ts';

/** What to render and how. */
export interface RenderOptions {
  /**
   * The extracted artifact, or what provides it (called only on a cache miss, so a hit needs no artifact).
   * Never modified: the render works in a private copy, or with `sharedRoot` in a private overlay directory.
   */
  root: string | (() => Promise<string>);
  /**
   * The root is shared with concurrent renders (the engine's extracted-artifact cache): its files are only read.
   * The render writes its kustomization file into a private directory beside `path` that links to the entries
   * of `path` (see `makeOverlayDir`), so its cost does not grow with the artifact; for `path` = the root, into
   * a private copy as without this flag. Default false: a private copy of the whole root.
   */
  sharedRoot?: boolean;
  /** `spec.path`, relative to the root. Default: the root. */
  path?: string;
  overlay?: KustomizeOverlay;
  /** `spec.postBuild` inputs; leave undefined when the Kustomization has no `postBuild`. */
  substitutions?: Substitutions;
  /** With `digest` and `cacheSlot`, a hit returns the cached objects without building (or reading the root). */
  cache?: RenderCache;
  /** The cache entry this render replaces: the Kustomization's `namespace/name`. */
  cacheSlot?: string;
  /** The artifact digest (`sha256:<hex>`), the cache's notion of "same revision". */
  digest?: string;
  /** Where the working copy is made (the engine's `<data-dir>/tmp`). Default: the OS temp dir. */
  tmpRoot?: string;
  /**
   * `spec.decryption` with provider sops: the keys to decrypt with. Encrypted generator sources and patches are
   * decrypted in a private copy before the build, encrypted objects after it (see `sops/`). The cache key holds
   * only the keys' digest.
   */
  decryption?: SopsKeys;
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
    ? {
        digest: opts.digest,
        path: opts.path ?? '',
        overlay: opts.overlay,
        substitutions: opts.substitutions,
        decryption: opts.decryption?.digest,
      }
    : undefined;
  const cache = key && opts.cacheSlot ? opts.cache : undefined;
  const cached = cache?.get(opts.cacheSlot!, key!);
  if (cached) return cached;

  const vars = opts.substitutions ? mergeVariables(opts.substitutions) : {};
  validateVariableNames(vars);

  const root = typeof opts.root === 'string' ? opts.root : await opts.root();
  const decryptor = opts.decryption ? new Decryptor(opts.decryption, opts.tmpRoot) : undefined;
  let objects: KObject[];
  try {
    let docs = splitDocuments(await build(root, opts, decryptor));
    if (decryptor) docs = await decryptDocuments(decryptor, docs, () => Promise.resolve(root));
    objects = docs.map((doc) => finish(doc, vars, opts));
  } finally {
    await decryptor?.close();
  }
  cache?.set(opts.cacheSlot!, key!, objects);
  return objects;
}

/**
 * Generates the kustomization with the overlay and builds it, never writing a file of `root`. With a decryptor,
 * encrypted generator sources and patches are decrypted first, which takes a private copy (mkdtemp: mode 0700,
 * removed as soon as the build ends) even for a shared root.
 */
async function build(root: string, opts: RenderOptions, decryptor?: Decryptor): Promise<string> {
  if (opts.sharedRoot) {
    const realRoot = await realpath(root);
    const dir = await resolveInside(realRoot, opts.path ?? '');
    if (dir !== realRoot) {
      const own = await makeOverlayDir(realRoot, dir, KustomizationFileNames);
      try {
        await generateKustomization(realRoot, dir, opts.overlay, own.dir);
        const encrypted = decryptor ? await findEncryptedSources(realRoot, own.dir) : [];
        if (encrypted.length === 0) return await kustomizeBuild(realRoot, own.dir, dir);
      } finally {
        await own.dispose();
      }
    }
  }
  const work = await realpath(await mkdtemp(path.join(opts.tmpRoot ?? tmpdir(), 'kedge-render-')));
  let plaintexts: Buffer[] = [];
  try {
    await cp(root, work, {
      recursive: true,
      verbatimSymlinks: true,
      filter: (from) => !isOverlayDirName(path.basename(from)),
    });
    const dir = await resolveInside(work, opts.path ?? '');
    await generateKustomization(work, dir, opts.overlay);
    if (decryptor) plaintexts = await decryptSources(decryptor, work, await findEncryptedSources(work, dir));
    return await kustomizeBuild(work, dir);
  } catch (error) {
    if (plaintexts.length > 0 && error instanceof BuildError) {
      throw new BuildError(redactPlaintexts(error.message, plaintexts), error.file);
    }
    throw error;
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
