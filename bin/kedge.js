#!/usr/bin/env node
// The `kedge` command: runs the compiled CLI in dist/, which `npm ci` builds (the `prepare` script runs
// scripts/build-cli.js; `npm run build` rebuilds it). No TypeScript compiler runs here.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const bundle = new URL('../dist/kedge.js', import.meta.url);
if (!existsSync(bundle)) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  process.stderr.write(
    `kedge: the compiled CLI ${fileURLToPath(bundle)} is missing: run 'npm ci' (or 'npm run build') in ${root}\n`,
  );
  process.exit(1);
}
// Stack traces (KEDGE_DEBUG) point into src/ through the bundle's source maps; off otherwise, as they cost start-up time.
if (process.env.KEDGE_DEBUG) process.setSourceMapsEnabled(true);
await import(bundle.href);
