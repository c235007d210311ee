import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm, symlink } from 'node:fs/promises';
import path from 'node:path';

/** Names of Kedge's private overlay directories; generated kustomizations and render copies skip them. */
const OVERLAY_DIR_PREFIX = '.kedge-overlay-';

/** True for the name of a private overlay directory (one render's, inside a shared artifact tree). */
export function isOverlayDirName(name: string): boolean {
  return name.startsWith(OVERLAY_DIR_PREFIX);
}

/** A render's private directory; `dispose()` removes it (the links, never what they point to). */
export interface OverlayDir {
  dir: string;
  dispose(): Promise<void>;
}

/**
 * Makes a private directory beside `dir` (same parent, so every relative path — `./file`, `sub/file`,
 * `../sibling`, `../../base` — resolves to the same file as from `dir`, and `..` climbs out of the artifact root
 * at the same depth) holding a relative symlink to each entry of `dir` except the names in `skip` (its
 * kustomization file names) and other renders' overlay directories. The render
 * writes its kustomization file there, so the shared tree's files are only ever read: a render cannot change
 * what another render of the same artifact sees. The links stay inside the root, so the confined renderer
 * follows them. `dir` must not be the root itself (its sibling would be outside the artifact); render from a
 * private copy then.
 */
export async function makeOverlayDir(
  root: string,
  dir: string,
  skip: readonly string[],
): Promise<OverlayDir> {
  const parent = path.dirname(dir);
  const rel = path.relative(root, dir);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new Error(`an overlay directory needs a path below the artifact root, not '${dir}'`);
  }
  const own = path.join(parent, `${OVERLAY_DIR_PREFIX}${randomBytes(8).toString('hex')}`);
  await mkdir(own, { mode: 0o700 });
  const dispose = () => rm(own, { recursive: true, force: true });
  try {
    const skipped = new Set(skip);
    const base = path.basename(dir);
    for (const name of await readdir(dir)) {
      if (skipped.has(name) || isOverlayDirName(name)) continue;
      await symlink(path.join('..', base, name), path.join(own, name));
    }
  } catch (error) {
    await dispose();
    throw error;
  }
  return { dir: own, dispose };
}
