import { open } from 'node:fs/promises';
import { posix, win32 } from 'node:path';
import * as tar from 'tar';

/** The layer is not a tar.gz that can be extracted safely; the message names the entry. */
export class LayerExtractError extends Error {
  override readonly name = 'LayerExtractError';
}

const KEPT_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory']);

/** Whether a file starts with the gzip magic bytes (a tarball layer, as opposed to a static one). */
export async function isGzipFile(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await handle.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

/**
 * Extracts a tar.gz layer into `dir`, as Flux's source-controller does for `operation: extract`: regular files
 * and directories only (symlinks, links and devices are skipped), and an entry that would land outside `dir`
 * (absolute, or with `..`) fails the whole extraction. Returns how many files were written.
 */
export async function extractLayer(file: string, dir: string): Promise<number> {
  let files = 0;
  const unsafe: string[] = [];
  await tar.t({
    file,
    strict: true,
    onReadEntry: (entry) => {
      const path = entry.path;
      if (posix.isAbsolute(path) || win32.isAbsolute(path) || path.split(/[\\/]+/).includes('..'))
        unsafe.push(path);
    },
  });
  if (unsafe.length > 0)
    throw new LayerExtractError(
      `refusing to extract layer: entries outside the target: ${unsafe.slice(0, 5).join(', ')}`,
    );
  await tar.x({
    file,
    cwd: dir,
    strict: true,
    preservePaths: false,
    noChmod: true,
    filter: (_path, entry) => {
      const type = 'type' in entry ? entry.type : 'File';
      const kept = KEPT_TYPES.has(type);
      if (kept && type !== 'Directory') files++;
      return kept;
    },
  });
  return files;
}
