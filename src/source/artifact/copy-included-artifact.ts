import { cp, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { x as extract } from 'tar';
import type { ArtifactStorage } from './artifact-storage.ts';

/** An include's `fromPath` or `toPath` that would leave its artifact or the checkout. */
export class IncludePathError extends Error {
  override readonly name = 'IncludePathError';
}

function inside(root: string, relative: string, what: string): string {
  const full = resolve(root, `./${relative}`);
  if (full !== root && !full.startsWith(root + sep))
    throw new IncludePathError(`${what} '${relative}' escapes its directory`);
  return full;
}

/**
 * Copies `fromPath` (default: everything) of a stored artifact into `toPath` of a checkout, as Flux's
 * `spec.include` does. Both paths are confined: neither can reach outside the artifact or the checkout.
 * Links in the artifact are never followed (Kedge's own artifacts contain none; any found are dropped).
 */
export async function copyIncludedArtifact(
  storage: ArtifactStorage,
  artifact: { path: string },
  checkoutDir: string,
  fromPath: string | undefined,
  toPath: string,
  tmpRoot: string = tmpdir(),
): Promise<void> {
  const target = inside(resolve(checkoutDir), toPath, 'include toPath');
  const scratch = await mkdtemp(join(tmpRoot, 'kedge-include-'));
  try {
    await extract({
      file: storage.localPath(artifact.path),
      cwd: scratch,
      filter: (_path, entry) => 'type' in entry && (entry.type === 'File' || entry.type === 'Directory'),
    });
    const source = inside(scratch, fromPath ?? '.', 'include fromPath');
    if (
      !(await stat(source).then(
        (s) => s.isDirectory(),
        () => false,
      ))
    ) {
      throw new IncludePathError(
        `include fromPath '${fromPath}' is not a directory of the included artifact`,
      );
    }
    await rm(target, { recursive: true, force: true });
    await cp(source, target, { recursive: true });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
