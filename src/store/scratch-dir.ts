import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The engine's scratch space, `<data-dir>/tmp`: checkouts, extracted artifacts, render copies, downloads and
 * the throwaway git/gpg homes live here instead of the OS temp dir, so whatever a crash (SIGKILL, OOM, power
 * loss) leaves behind is found and removed by the next engine on the same data dir.
 */
export function scratchDir(dataDir: string): string {
  return join(dataDir, 'tmp');
}

/**
 * Empties the scratch space and makes sure it exists (owner-only: throwaway git homes hold credential files).
 * Only the engine may call this, holding the data dir's engine lock: nothing else works in `<data-dir>/tmp`,
 * so everything found there is a leftover of an engine that did not stop cleanly. Returns the names removed.
 */
export async function resetScratchDir(dataDir: string): Promise<string[]> {
  const dir = scratchDir(dataDir);
  const leftovers = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  for (const name of leftovers) await rm(join(dir, name), { recursive: true, force: true });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return leftovers;
}
