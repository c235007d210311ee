import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * Where Kedge's own files are at run time, the same whether it runs as TypeScript sources (tests, benches:
 * `src/…/*.ts` through vitest or tsx) or as the shipped bundle (`dist/*.js` and `dist/chunks/*.js`, built by
 * `scripts/build-cli.js`): the package root is the nearest directory above this module with a package.json.
 */
export const packageRoot: string = (() => {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir)
      throw new Error(`no package.json above ${start}: the Kedge package is incomplete`);
  }
})();

/** True when running from the compiled bundle in dist/, false when running the TypeScript sources. */
export const runsCompiled: boolean = !import.meta.url.endsWith('.ts');

/** A file of the package by its path from the package root (`examples/hello`, `scripts/…`). */
export function packagePath(...segments: string[]): string {
  return join(packageRoot, ...segments);
}

/**
 * Entry points that Kedge starts as separate Node processes. The names are the bundle's entry names (keep
 * them in step with `entryPoints` in scripts/build-cli.js); the values are their TypeScript sources.
 */
const processEntries = {
  'supervisor-main': 'src/devcluster/supervisor-main.ts',
} as const;

/**
 * Arguments for `spawn(process.execPath, [...nodeEntryArgs(name), ...args])`: the compiled entry
 * (`dist/<name>.js`) when running compiled, else its TypeScript source through tsx (tests and benches only:
 * the shipped CLI never loads a TypeScript compiler).
 */
export function nodeEntryArgs(name: keyof typeof processEntries): string[] {
  if (runsCompiled) return [packagePath('dist', `${name}.js`)];
  // createRequire, not import.meta.resolve: vitest does not provide the latter.
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return ['--import', tsx, packagePath(processEntries[name])];
}
