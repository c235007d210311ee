import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { packagePath, runsCompiled } from '../../package-paths.ts';

/** One file of the single-page app, held in memory. */
export interface Asset {
  body: Buffer;
  contentType: string;
  etag: string;
}

/** Where the dashboard's sources live; `scripts/build-cli.js` bundles them into `dist/dashboard/`. */
const uiSource = packagePath('src', 'web', 'dashboard', 'ui');

/**
 * The dashboard's files by URL path (`/`, `/app.js`, `/app.css`): from `dist/dashboard/` when running the
 * bundle (built by `npm ci`/`npm run build`), else bundled now from `ui/` with esbuild (tests and benches run
 * the sources, so they always see the current UI; esbuild is a dev dependency).
 */
export async function loadDashboardAssets(): Promise<Map<string, Asset>> {
  const [html, css, js] = runsCompiled
    ? await Promise.all(
        ['index.html', 'app.css', 'app.js'].map((f) => readFile(packagePath('dist', 'dashboard', f))),
      )
    : await Promise.all([
        readFile(`${uiSource}/index.html`),
        readFile(`${uiSource}/app.css`),
        bundleFromSources(),
      ]);
  return new Map([
    ['/', asset(html, 'text/html; charset=utf-8')],
    ['/app.css', asset(css, 'text/css; charset=utf-8')],
    ['/app.js', asset(js, 'text/javascript; charset=utf-8')],
  ]);
}

/** esbuild options; scripts/build-cli.js builds the shipped bundle with the same ones. */
const uiBuildOptions = {
  entryPoints: [`${uiSource}/main.ts`],
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  platform: 'browser',
} as const;

async function bundleFromSources(): Promise<Buffer> {
  // A dev dependency: only reached from the TypeScript sources, never from the shipped bundle.
  const { build } = await import('esbuild');
  const result = await build({
    ...uiBuildOptions,
    entryPoints: [...uiBuildOptions.entryPoints],
    write: false,
    logLevel: 'warning',
  });
  return Buffer.from(result.outputFiles[0]!.contents);
}

function asset(body: Buffer, contentType: string): Asset {
  return {
    body,
    contentType,
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`,
  };
}
