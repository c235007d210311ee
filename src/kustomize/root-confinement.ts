import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { KustomizationFileNames } from './generate.ts';

/** A kustomization file that references a local path outside the artifact root. */
export class RootEscapeError extends Error {
  override name = 'RootEscapeError';
  readonly reason = 'BuildFailed';
}

const LIST_FIELDS = ['resources', 'bases', 'components', 'crds', 'configurations', 'generators', 'transformers', 'validators'];

/**
 * Flux builds with kustomize's `LoadRestrictionsNone` on a file system confined to the artifact root: a
 * kustomization may load files from anywhere in the artifact, never from outside it. The kustomize binary
 * cannot confine itself, so this check stands in for Flux's secure file system: it reads every kustomization
 * file under `root` and rejects any local path (resources, components, patches, generator files, …) that
 * resolves outside `root`, naming the file and the path. Remote references are left to kustomize.
 */
export async function assertConfinedToRoot(root: string): Promise<void> {
  const problems: string[] = [];
  for (const file of await kustomizationFiles(root)) {
    let kus: unknown;
    try {
      kus = parse(await readFile(file, 'utf8'));
    } catch {
      continue; // kustomize reports the syntax error itself, with the file name
    }
    const rel = path.relative(root, file).split(path.sep).join('/');
    for (const ref of referencedPaths(kus)) {
      if (isRemote(ref)) continue;
      const resolved = path.resolve(path.dirname(file), ref);
      if (resolved !== root && !resolved.startsWith(root + path.sep)) problems.push(`${rel} references '${ref}'`);
    }
  }
  if (problems.length > 0) {
    throw new RootEscapeError(`kustomization loads files outside the artifact root: ${problems.join('; ')}`);
  }
}

async function kustomizationFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await kustomizationFiles(full)));
    else if (entry.isFile() && (KustomizationFileNames as readonly string[]).includes(entry.name)) out.push(full);
  }
  return out;
}

function referencedPaths(kus: unknown): string[] {
  if (!kus || typeof kus !== 'object') return [];
  const k = kus as Record<string, unknown>;
  const refs: string[] = [];
  const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  const objects = (v: unknown): Record<string, unknown>[] =>
    Array.isArray(v) ? v.filter((x): x is Record<string, unknown> => !!x && typeof x === 'object') : [];

  for (const field of LIST_FIELDS) refs.push(...strings(k[field]));
  // A patchesStrategicMerge entry is either a file path or an inline patch (which has a newline or a colon).
  refs.push(...strings(k.patchesStrategicMerge).filter((p) => !/[\n:]/.test(p)));
  for (const p of [...objects(k.patches), ...objects(k.patchesJson6902), ...objects(k.replacements)]) {
    if (typeof p.path === 'string') refs.push(p.path);
  }
  for (const gen of [...objects(k.configMapGenerator), ...objects(k.secretGenerator)]) {
    for (const f of strings(gen.files)) refs.push(f.includes('=') ? f.slice(f.indexOf('=') + 1) : f);
    refs.push(...strings(gen.envs));
    if (typeof gen.env === 'string') refs.push(gen.env);
  }
  const openapi = k.openapi as Record<string, unknown> | undefined;
  if (openapi && typeof openapi.path === 'string') refs.push(openapi.path);
  const helm = k.helmGlobals as Record<string, unknown> | undefined;
  if (helm && typeof helm.chartHome === 'string') refs.push(helm.chartHome);
  return refs;
}

/** URLs are kustomize's business; host-style refs (`github.com/org/repo`) resolve inside the root anyway. */
function isRemote(ref: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(ref) || ref.startsWith('git@');
}
