import { execFile } from 'node:child_process';
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { locateRenderer } from './renderer-binary.ts';

/** The build failed. The message carries kustomize's own words with paths relative to the artifact root. */
export class BuildError extends Error {
  override name = 'BuildError';
  readonly reason = 'BuildFailed';
  constructor(
    message: string,
    /** The file kustomize complained about, relative to the artifact root, when it named one. */
    readonly file?: string,
  ) {
    super(message);
  }
}

/**
 * Builds `dir` (inside `root`) with Kedge's renderer, `tools/kustomize-build`: kustomize's API with the
 * options Flux uses (load restrictions off, builtin plugins only, no Helm, no exec or container functions) on
 * a file system confined to `root` after symlink resolution, with no network and no git. Every file the build
 * reaches — resources, components, generators, transformers, validators, patches, generator `files`/`envs`,
 * replacements, openapi schemas — must lie inside `root`; anything else fails the build naming the file.
 * Returns the YAML stream. Throws `BuildError`, or `RendererUnavailableError` when the renderer cannot be had.
 * `shownAs`: the directory messages name instead of `dir` (a private overlay directory standing for it).
 */
export async function kustomizeBuild(root: string, dir: string, shownAs: string = dir): Promise<string> {
  const renderer = await locateRenderer();
  const target = path.relative(root, dir) || '.';
  const shown = path.relative(root, shownAs) || '.';
  const roots = [...new Set([root, await realpath(root)])];
  return new Promise((resolve, reject) => {
    execFile(
      renderer,
      [root, target],
      { env: {}, maxBuffer: 512 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        let words = relativise(stderr.trim() || error.message, roots);
        if (shown !== target) words = words.split(target).join(shown);
        const file = namedFile(words, shown);
        const where = file && !words.includes(file) ? ` (in ${file})` : '';
        reject(new BuildError(`kustomize build failed: ${words}${where}`, file));
      },
    );
  });
}

/** Splits kustomize's output into the text of each object, in order. */
export function splitDocuments(stream: string): string[] {
  return stream
    .split(/^---[ \t]*$/m)
    .map((doc) => doc.replace(/^\n+/, ''))
    .filter((doc) => doc.trim() !== '');
}

function relativise(message: string, roots: string[]): string {
  let out = message;
  for (const root of roots) out = out.split(`${root}${path.sep}`).join('').split(root).join('.');
  return out;
}

/** The file kustomize names, relative to the artifact root (its own references are relative to `dir`). */
function namedFile(words: string, dir: string): string | undefined {
  const inRoot = (p: string | undefined) =>
    p && !path.posix.isAbsolute(p) && !p.startsWith('../') ? p : undefined;
  const fromDir = /in File: ([^\s'"]+)/.exec(words) ?? /accumulating resources from '([^']+)'/.exec(words);
  if (fromDir?.[1] && !/^[a-z][a-z0-9+.-]*:\/\//i.test(fromDir[1])) {
    const file = inRoot(path.posix.normalize(path.posix.join(dir.split(path.sep).join('/'), fromDir[1])));
    if (file) return file;
  }
  return inRoot(/(?:open|read) ([^\s:']+)/.exec(words)?.[1]);
}
