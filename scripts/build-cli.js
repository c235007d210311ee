#!/usr/bin/env node
// Builds the shipped CLI: bundles the TypeScript entry points into ESM JavaScript in dist/ with esbuild, so
// `bin/kedge.js` runs without a TypeScript compiler. `npm ci` runs it (the `prepare` script); `npm run build`
// runs it by hand. npm packages stay external (better-sqlite3 is native; the heavy ones are imported lazily),
// except @kubernetes/client-node: bundled and tree-shaken to what Kedge uses (KubeConfig, Watch), because
// loading its ~970 modules took 2.5–3.5 s of every operator-mode start on a loaded machine (~1 s bundled).
// Dynamic imports become separate chunks, so a command loads only what it uses.
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist`;

await rm(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  // Entry names are part of the runtime contract: bin/kedge.js imports dist/kedge.js, and the dev cluster
  // spawns dist/supervisor-main.js (see src/package-paths.ts).
  entryPoints: {
    kedge: 'src/cli/main.ts',
    'supervisor-main': 'src/devcluster/supervisor-main.ts',
    // The expose proxies' forwarding thread (src/host/forwarding-thread.ts starts dist/http-forwarding-worker.js).
    'http-forwarding-worker': 'src/host/http-forwarding-worker.ts',
  },
  outdir,
  bundle: true,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  platform: 'node',
  target: 'node20',
  format: 'esm',
  plugins: [externalPackagesBut('@kubernetes/client-node')],
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
});

// The dashboard's single-page app (src/web/dashboard/ui): one browser bundle plus its page and stylesheet, which
// the engine serves from dist/dashboard/ (src/web/dashboard/dashboard-assets.ts builds the same from the sources).
const ui = `${root}src/web/dashboard/ui`;
await mkdir(`${outdir}/dashboard`, { recursive: true });
await build({
  absWorkingDir: root,
  entryPoints: [`${ui}/main.ts`],
  outfile: `${outdir}/dashboard/app.js`,
  bundle: true,
  format: 'esm',
  target: 'es2022',
  platform: 'browser',
  minify: true,
  logLevel: 'warning',
});
await copyFile(`${ui}/index.html`, `${outdir}/dashboard/index.html`);
await copyFile(`${ui}/app.css`, `${outdir}/dashboard/app.css`);

/** Every npm package external (resolved from node_modules at run time) but `bundled` (its own dependencies stay external). */
function externalPackagesBut(bundled) {
  return {
    name: 'external-packages',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.path === bundled || args.path.startsWith(`${bundled}/`)) return undefined;
        return { path: args.path, external: true };
      });
    },
  };
}
