import { copyFile, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { extractArtifact, resolveInside } from '../../kustomize/safe-extract.ts';
import {
  ChartBuildError,
  buildDependencies,
  mergeValuesFiles,
  overwriteChartValues,
  packageChart,
  readChartMetadata,
  withBuildMetadata,
  type DependencyRepository,
} from './chart-package.ts';
import type { HelmHome } from './helm-command.ts';
import { httpGet, type RepositoryAccess } from './helm-http.ts';
import { ChartReferenceError, selectChartVersion, type RepositoryIndex } from './repository-index.ts';

/** What a chart build produced, as Flux's `chart.Build`. */
export interface ChartBuild {
  name: string;
  /** The artifact revision: the chart version, with build metadata when Kedge set some. */
  version: string;
  /** The .tgz (undefined when the current artifact is still the right one). */
  file?: string;
  /** Repackaged (values files, version metadata, a chart directory) rather than pulled as published. */
  packaged: boolean;
  valuesFiles: string[];
  resolvedDependencies: number;
}

/** `pulled|packaged '<name>' chart with version '<v>'[ and merged values files [..]]`, Flux's summary. */
export function buildSummary(build: ChartBuild): string {
  const action = build.packaged ? 'packaged' : 'pulled';
  const values =
    build.valuesFiles.length > 0 ? ` and merged values files [${build.valuesFiles.join(' ')}]` : '';
  return `${action} '${build.name}' chart with version '${build.version}'${values}`;
}

/** Inputs every builder shares. */
export interface BuildOptions {
  home: HelmHome;
  /** Scratch directory owned by this build (removed by the caller). */
  workDir: string;
  valuesFiles: string[];
  ignoreMissingValuesFiles: boolean;
  /** Build metadata to set on the version (`<short revision>`, `<generation>`, joined by `.`), if any. */
  versionMetadata?: string;
  /** The current artifact: when name and version match and `force` is off, nothing is fetched or built. */
  cached?: { name?: string; version: string; valuesFiles?: string[] };
  force: boolean;
  signal: AbortSignal;
}

function isCached(options: BuildOptions, name: string, version: string): boolean {
  return !options.force && options.cached?.name === name && options.cached.version === version;
}

/**
 * A chart from an HTTP(S) repository's index: pick the version, download its first URL (credentials only to
 * the repository's host unless `passCredentials`), and repackage only when values files or version metadata
 * change it (values file paths are relative to the chart).
 */
export async function buildFromIndex(
  source: { index: RepositoryIndex; url: string; access: RepositoryAccess; passCredentials?: boolean },
  chart: string,
  versionRange: string | undefined,
  options: BuildOptions,
): Promise<ChartBuild> {
  let selected;
  try {
    selected = selectChartVersion(source.index, chart, versionRange);
  } catch (error) {
    if (!(error instanceof ChartReferenceError)) throw error;
    throw new ChartBuildError('InvalidChartReference', `invalid chart reference: ${error.message}`);
  }
  const version = options.versionMetadata
    ? withBuildMetadata(selected.version, options.versionMetadata)
    : selected.version;
  const packaged = options.valuesFiles.length > 0 || options.versionMetadata !== undefined;
  const base = { name: selected.name, version, packaged, resolvedDependencies: 0 };
  if (isCached(options, selected.name, version))
    return { ...base, valuesFiles: options.cached?.valuesFiles ?? options.valuesFiles };
  const ref = selected.urls?.[0];
  if (!ref)
    throw new ChartBuildError(
      'ChartPullError',
      `chart '${selected.name}' version '${selected.version}' has no downloadable URLs`,
    );
  const chartUrl = new URL(ref, source.url).toString();
  const sameHost = new URL(chartUrl).host === new URL(source.url).host;
  let bytes: Buffer;
  try {
    bytes = await httpGet(chartUrl, source.access, {
      sendAuth: sameHost || source.passCredentials === true,
      signal: options.signal,
    });
  } catch (error) {
    if (options.signal.aborted) throw error;
    throw new ChartBuildError(
      'ChartPullError',
      `chart pull error: failed to download chart for remote reference: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const downloaded = join(options.workDir, 'downloaded.tgz');
  await writeFile(downloaded, bytes);
  return finishPackaged(downloaded, { ...base, valuesFiles: [] }, options);
}

/**
 * A chart pulled with helm from an OCI repository (`helm pull oci://…/<chart> --version <range>`), registry
 * credentials and TLS already in the helm home; repackaged only for values files or version metadata.
 */
export async function buildFromOci(
  source: { url: string; plainHttp: boolean; tlsArgs: string[] },
  chart: string,
  versionRange: string | undefined,
  options: BuildOptions,
): Promise<ChartBuild> {
  const pullDir = await mkdtemp(join(options.workDir, 'pull-'));
  const ref = `${source.url.replace(/\/+$/, '')}/${chart}`;
  const args = ['pull', ref, '--destination', pullDir, ...source.tlsArgs];
  if (versionRange && versionRange !== '*') args.push('--version', versionRange);
  if (source.plainHttp) args.push('--plain-http');
  try {
    await options.home.run(args, { signal: options.signal });
  } catch (error) {
    if (options.signal.aborted) throw error;
    const message = (error as Error).message;
    const reason =
      /not found|no matching|could not locate|invalid_reference|manifest unknown|name unknown/i.test(message)
        ? 'InvalidChartReference'
        : 'ChartPullError';
    throw new ChartBuildError(reason, `failed to pull chart '${ref}': ${message}`, { cause: error });
  }
  const [file] = (await readdir(pullDir)).filter((f) => f.endsWith('.tgz'));
  if (!file) throw new ChartBuildError('ChartPullError', `helm pull of '${ref}' produced no chart archive`);
  const tree = await extractArtifact(join(pullDir, file), { tmpRoot: options.workDir });
  const meta = await readChartMetadata(await chartRootOf(tree), chart);
  const version = options.versionMetadata
    ? withBuildMetadata(meta.version, options.versionMetadata)
    : meta.version;
  const packaged = options.valuesFiles.length > 0 || options.versionMetadata !== undefined;
  return finishPackaged(
    join(pullDir, file),
    { name: meta.name, version, packaged, valuesFiles: [], resolvedDependencies: 0 },
    options,
  );
}

/** Uses the archive as it is, or extracts it, merges values files (chart-relative) and repackages. */
async function finishPackaged(
  archive: string,
  build: ChartBuild,
  options: BuildOptions,
): Promise<ChartBuild> {
  if (!build.packaged) return { ...build, file: archive };
  const tree = await extractArtifact(archive, { tmpRoot: options.workDir });
  const chartDir = await chartRootOf(tree);
  if (options.valuesFiles.length > 0) {
    const merged = await mergeValuesFiles(
      options.valuesFiles,
      (p) => readInside(chartDir, p),
      options.ignoreMissingValuesFiles,
    );
    await overwriteChartValues(chartDir, merged.values);
    build.valuesFiles = merged.files;
  }
  const out = await mkdtemp(join(options.workDir, 'out-'));
  return { ...build, file: await packageChart(options.home, chartDir, out, build.version, options.signal) };
}

/**
 * A chart in a source artifact (GitRepository, Bucket) at `chartPath`: a directory is packaged with its
 * dependencies (`helm dependency build`, repository credentials from `lookup`); values file paths are relative
 * to the artifact root, as in Flux. A packaged `.tgz` at that path is used as a pulled chart.
 */
export async function buildFromSourceTree(
  root: string,
  chartPath: string,
  lookup: (url: string) => Promise<DependencyRepository | undefined>,
  options: BuildOptions,
): Promise<ChartBuild> {
  let resolved: string;
  try {
    resolved = await resolveInside(root, chartPath);
  } catch (error) {
    throw new ChartBuildError(
      'InvalidChartReference',
      `invalid chart reference: path '${chartPath}': ${(error as Error).message}`,
    );
  }
  if ((await stat(resolved)).isFile()) {
    const tree = await extractArtifact(resolved, { tmpRoot: options.workDir });
    const meta = await readChartMetadata(await chartRootOf(tree), chartPath);
    const version = options.versionMetadata
      ? withBuildMetadata(meta.version, options.versionMetadata)
      : meta.version;
    const packaged = options.valuesFiles.length > 0 || options.versionMetadata !== undefined;
    if (isCached(options, meta.name, version))
      return {
        name: meta.name,
        version,
        packaged,
        valuesFiles: options.cached?.valuesFiles ?? [],
        resolvedDependencies: 0,
      };
    const copy = join(options.workDir, 'chart.tgz');
    await copyFile(resolved, copy);
    return finishPackaged(
      copy,
      { name: meta.name, version, packaged, valuesFiles: [], resolvedDependencies: 0 },
      options,
    );
  }
  const meta = await readChartMetadata(resolved, chartPath);
  const version = options.versionMetadata
    ? withBuildMetadata(meta.version, options.versionMetadata)
    : meta.version;
  const build: ChartBuild = {
    name: meta.name,
    version,
    packaged: true,
    valuesFiles: [],
    resolvedDependencies: 0,
  };
  if (isCached(options, meta.name, version))
    return { ...build, valuesFiles: options.cached?.valuesFiles ?? [] };
  if (options.valuesFiles.length > 0) {
    const merged = await mergeValuesFiles(
      options.valuesFiles,
      (p) => readInside(root, p),
      options.ignoreMissingValuesFiles,
    );
    await overwriteChartValues(resolved, merged.values);
    build.valuesFiles = merged.files;
  }
  build.resolvedDependencies = await buildDependencies(options.home, resolved, meta, lookup, options.signal);
  const out = await mkdtemp(join(options.workDir, 'out-'));
  return { ...build, file: await packageChart(options.home, resolved, out, version, options.signal) };
}

/** The single top-level directory of an extracted chart archive. */
async function chartRootOf(tree: string): Promise<string> {
  const entries = await readdir(tree, { withFileTypes: true });
  const dirs = entries.filter((e) => e.isDirectory());
  if (dirs.length !== 1 || !dirs[0])
    throw new ChartBuildError('ChartPackageError', 'chart archive does not hold exactly one chart directory');
  return join(tree, dirs[0].name);
}

/** A file's text inside `root` (no escape), or undefined when it does not exist. */
async function readInside(root: string, relPath: string): Promise<string | undefined> {
  let file: string;
  try {
    file = await resolveInside(root, relPath);
  } catch (error) {
    if ((error as Error).name === 'PathNotFoundError') return undefined;
    throw new ChartBuildError('ValuesFilesError', `values file '${relPath}': ${(error as Error).message}`);
  }
  return readFile(file, 'utf8').catch(() => undefined);
}
