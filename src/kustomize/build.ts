import { execFile } from 'node:child_process';
import { access, constants, realpath } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import type { KObject } from '../api/meta.ts';

/** Which renderer to run: a standalone `kustomize`, `kubectl kustomize`, or an explicit executable path. */
export type BinaryChoice = 'kustomize' | 'kubectl' | (string & {});

/** A resolved renderer: the executable and the sub-command that builds. */
export interface Renderer {
  file: string;
  mode: 'kustomize' | 'kubectl';
}

/** `kustomize build` failed. The message carries kustomize's own words with paths relative to the artifact root. */
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

let detected: Promise<Renderer> | undefined;

async function onPath(name: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, name);
    if (await access(candidate, constants.X_OK).then(() => true, () => false)) return candidate;
  }
  return undefined;
}

/**
 * Resolves the renderer. Without a choice: `kustomize` if on PATH, else `kubectl`, detected once per process.
 * A path is run as `kubectl kustomize` when its file name starts with `kubectl`, else as `kustomize build`.
 */
export function resolveRenderer(choice?: BinaryChoice): Promise<Renderer> {
  if (choice === 'kustomize' || choice === 'kubectl') {
    const mode = choice as Renderer['mode'];
    return onPath(mode).then((file) => {
      if (!file) throw new BuildError(`${mode} binary not found on PATH`);
      return { file, mode };
    });
  }
  if (choice) return Promise.resolve({ file: choice, mode: path.basename(choice).startsWith('kubectl') ? 'kubectl' : 'kustomize' });
  detected ??= (async (): Promise<Renderer> => {
    const kustomize = await onPath('kustomize');
    if (kustomize) return { file: kustomize, mode: 'kustomize' };
    const kubectl = await onPath('kubectl');
    if (kubectl) return { file: kubectl, mode: 'kubectl' };
    detected = undefined;
    throw new BuildError('neither kustomize nor kubectl found on PATH');
  })();
  return detected;
}

/**
 * Runs `kustomize build` on `dir` (inside `root`) with the options Flux uses: loading from anywhere (Flux
 * confines that to the artifact root; see `assertConfinedToRoot`), no plugins, no Helm. Returns the YAML stream.
 */
export async function kustomizeBuild(root: string, dir: string, renderer: Renderer): Promise<string> {
  const target = path.relative(root, dir) || '.';
  const args =
    renderer.mode === 'kubectl'
      ? ['kustomize', target, '--load-restrictor', 'LoadRestrictionsNone']
      : ['build', target, '--load-restrictor', 'LoadRestrictionsNone'];
  const roots = [...new Set([root, await realpath(root)])];
  return new Promise((resolve, reject) => {
    execFile(renderer.file, args, { cwd: root, maxBuffer: 512 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      const words = relativise(kustomizeWords(stderr) || error.message, roots);
      const file = namedFile(words, path.relative(root, dir));
      const where = file && !words.includes(file) ? ` (in ${file})` : '';
      reject(new BuildError(`kustomize build failed: ${words}${where}`, file));
    });
  });
}

/** Splits kustomize's output into the text of each object, in order. */
export function splitDocuments(stream: string): string[] {
  return stream
    .split(/^---[ \t]*$/m)
    .map((doc) => doc.replace(/^\n+/, ''))
    .filter((doc) => doc.trim() !== '');
}

/** Renders `dir` and returns the parsed objects in kustomize's output order. */
export async function buildObjects(root: string, dir: string, choice?: BinaryChoice): Promise<KObject[]> {
  const stream = await kustomizeBuild(root, dir, await resolveRenderer(choice));
  return splitDocuments(stream).map((doc) => parse(doc) as KObject);
}

/** Pulls kustomize's message out of kubectl's klog line or kustomize's `Error:` line. */
function kustomizeWords(stderr: string): string {
  const klog = /"command failed" err=("(?:[^"\\]|\\.)*")/.exec(stderr);
  if (klog?.[1]) {
    try {
      return JSON.parse(klog[1]) as string;
    } catch {
      return klog[1].slice(1, -1);
    }
  }
  const plain = /^Error: (.*)$/m.exec(stderr);
  return (plain?.[1] ?? stderr).trim();
}

function relativise(message: string, roots: string[]): string {
  let out = message;
  for (const root of roots) out = out.split(`${root}${path.sep}`).join('').split(root).join('.');
  return out;
}

/** The file kustomize names, relative to the artifact root. Its own references are relative to `dir`. */
function namedFile(words: string, dir: string): string | undefined {
  const fromDir = /in File: ([^\s'"]+)/.exec(words) ?? /accumulating resources from '([^']+)'/.exec(words);
  if (fromDir?.[1]) return path.posix.normalize(path.posix.join(dir.split(path.sep).join('/'), fromDir[1]));
  return /open ([^\s:']+)/.exec(words)?.[1];
}
