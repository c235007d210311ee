import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import ignore, { type Ignore } from 'ignore';

/** Always excluded: VCS metadata (Flux's `ExcludeVCS`). */
export const VCS_PATTERNS: readonly string[] = ['.git/', '.gitignore', '.gitmodules', '.gitattributes'];

/** Excluded when no other rule is given (Flux's `ExcludeExt`, `ExcludeCI` and `ExcludeExtra`). */
export const DEFAULT_PATTERNS: readonly string[] = [
  '*.jpg',
  '*.jpeg',
  '*.gif',
  '*.png',
  '*.wmv',
  '*.flv',
  '*.tar.gz',
  '*.zip',
  '.github/',
  '.circleci/',
  '.travis.yml',
  '.gitlab-ci.yml',
  'appveyor.yml',
  '.drone.yml',
  'cloudbuild.yaml',
  'codeship-services.yml',
  'codeship-steps.yml',
  '**/.goreleaser.yml',
  '**/.sops.yaml',
  '**/.flux.yaml',
];

/** The file whose gitignore-style rules apply to its own directory and below. */
export const SOURCE_IGNORE_FILE = '.sourceignore';

/** Decides which paths of a source tree are left out of its artifact. */
export interface SourceIgnore {
  /** Whether `path` (relative to the tree root, `/`-separated) is excluded. */
  ignores(path: string, isDir: boolean): boolean;
}

interface RuleSet {
  /** Directory the rules are relative to ('' for the root), with a trailing slash otherwise. */
  domain: string;
  rules: Ignore;
}

/** Splits gitignore text into patterns, dropping blank lines and comments (as Flux does). */
export function parsePatterns(text: string): string[] {
  return text.split(/\r?\n/).filter((line) => line.trim() !== '' && !line.startsWith('#'));
}

/**
 * Builds Flux's exclusion rules for the tree at `dir`: VCS patterns first; then every `.sourceignore`
 * (relative to its own directory, outer before inner) and `spec.ignore` (relative to the root), later rules
 * winning so `!pattern` can re-include. As in Flux, the default patterns apply only when neither
 * `.sourceignore` files nor `spec.ignore` contribute any pattern: either of them replaces the defaults.
 * Matching is case-sensitive (as Flux's). Unlike Flux, a `.git` file or directory is never re-included.
 * With `defaults: false` (an OCI artifact, which Flux filters by its `.sourceignore` files and `spec.ignore`
 * only) the default patterns never apply.
 */
export async function loadSourceIgnore(dir: string, specIgnore?: string): Promise<SourceIgnore> {
  return sourceIgnoreFrom(await collectSourceIgnoreFiles(dir, ''), specIgnore);
}

/** A `.sourceignore` file's text and the directory it sits in ('' for the root, else with a trailing slash). */
export interface SourceIgnoreFile {
  domain: string;
  text: string;
}

/**
 * The rules of {@link loadSourceIgnore} from `.sourceignore` files already read, outer directories before
 * inner ones (a depth-first walk in name order).
 */
export function sourceIgnoreFrom(
  files: readonly SourceIgnoreFile[],
  specIgnore?: string,
  options: { defaults?: boolean } = {},
): SourceIgnore {
  const sets: RuleSet[] = [];
  for (const { domain, text } of files) {
    const patterns = parsePatterns(text);
    if (patterns.length > 0) sets.push({ domain, rules: ignore({ ignorecase: false }).add(patterns) });
  }
  const spec = specIgnore === undefined ? [] : parsePatterns(specIgnore);
  if (spec.length > 0) sets.push({ domain: '', rules: ignore({ ignorecase: false }).add(spec) });
  if (sets.length === 0 && options.defaults !== false)
    sets.push({ domain: '', rules: ignore({ ignorecase: false }).add([...DEFAULT_PATTERNS]) });
  sets.unshift({ domain: '', rules: ignore({ ignorecase: false }).add([...VCS_PATTERNS]) });
  return {
    ignores(path, isDir) {
      if (path.split('/').includes('.git')) return true;
      let ignored = false;
      for (const { domain, rules } of sets) {
        if (!path.startsWith(domain) || path === domain) continue;
        const relative = path.slice(domain.length);
        const result = rules.test(isDir ? `${relative}/` : relative);
        if (result.ignored) ignored = true;
        else if (result.unignored) ignored = false;
      }
      return ignored;
    },
  };
}

async function collectSourceIgnoreFiles(root: string, domain: string): Promise<SourceIgnoreFile[]> {
  const files: SourceIgnoreFile[] = [];
  const here = join(root, domain);
  const text = await readFile(join(here, SOURCE_IGNORE_FILE), 'utf8').catch(
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'EISDIR') return '';
      throw error;
    },
  );
  if (text) files.push({ domain, text });
  const entries = await readdir(here, { withFileTypes: true });
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (entry.isDirectory() && entry.name !== '.git')
      files.push(...(await collectSourceIgnoreFiles(root, `${domain}${entry.name}/`)));
  }
  return files;
}
