import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { HelmHome } from './helm-command.ts';
import type { RepositoryAccess } from './helm-http.ts';
import { mergeValues } from './merge-values.ts';
import { HelmVersionConstraint } from './version-constraint.ts';

/** Why a chart could not be built, as Flux's chart builder names it (becomes the condition reason). */
export type ChartBuildReason =
  | 'InvalidChartReference'
  | 'ChartPullError'
  | 'MetadataPatchError'
  | 'ValuesFilesError'
  | 'DependencyBuildError'
  | 'ChartPackageError';

/** A failed chart build step; `persistent` ones need a spec change (Flux stalls on them). */
export class ChartBuildError extends Error {
  override readonly name = 'ChartBuildError';
  constructor(
    readonly reason: ChartBuildReason,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  get persistent(): boolean {
    return ['InvalidChartReference', 'MetadataPatchError', 'ValuesFilesError'].includes(this.reason);
  }
}

export interface ChartDependency {
  name: string;
  version?: string;
  repository?: string;
  alias?: string;
}

export interface ChartMetadata {
  name: string;
  version: string;
  dependencies?: ChartDependency[];
}

/** Chart.yaml of a chart directory; ChartPackageError when it is missing or invalid. */
export async function readChartMetadata(chartDir: string, shownAs: string): Promise<ChartMetadata> {
  let text: string;
  try {
    text = await readFile(join(chartDir, 'Chart.yaml'), 'utf8');
  } catch {
    throw new ChartBuildError(
      'InvalidChartReference',
      `no Chart.yaml in '${shownAs}': not a chart directory`,
    );
  }
  const meta = parse(text) as Partial<ChartMetadata> | null;
  if (!meta?.name || meta.version === undefined || !HelmVersionConstraint.parseVersion(String(meta.version)))
    throw new ChartBuildError(
      'ChartPackageError',
      `'${shownAs}/Chart.yaml' needs a name and a semver version`,
    );
  return { ...meta, name: meta.name, version: String(meta.version) };
}

/** `version` with its build metadata set to `metadata` (replacing any), as Masterminds' SetMetadata. */
export function withBuildMetadata(version: string, metadata: string): string {
  if (!/^[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*$/.test(metadata))
    throw new ChartBuildError('MetadataPatchError', `invalid version metadata '${metadata}'`);
  return `${version.replace(/\+.*$/, '')}+${metadata}`;
}

/**
 * Merges values files in order (later wins, maps merged key by key). `read` returns a file's text or undefined
 * when it is missing; a missing file fails unless `ignoreMissing`. Returns the values and the files merged.
 */
export async function mergeValuesFiles(
  paths: readonly string[],
  read: (path: string) => Promise<string | undefined>,
  ignoreMissing: boolean,
): Promise<{ values: Record<string, unknown>; files: string[] }> {
  let values: Record<string, unknown> = {};
  const files: string[] = [];
  for (const path of paths) {
    const text = await read(path);
    if (text === undefined) {
      if (ignoreMissing) continue;
      throw new ChartBuildError('ValuesFilesError', `no values file found at path '${path}'`);
    }
    let parsed: unknown;
    try {
      parsed = parse(text) ?? {};
    } catch (error) {
      throw new ChartBuildError(
        'ValuesFilesError',
        `unmarshaling values from '${path}' failed: ${(error as Error).message.split('\n')[0]}`,
      );
    }
    if (typeof parsed !== 'object' || Array.isArray(parsed))
      throw new ChartBuildError('ValuesFilesError', `values file '${path}' is not a mapping`);
    values = mergeValues(values, parsed as Record<string, unknown>);
    files.push(path);
  }
  return { values, files };
}

/** Replaces the chart's default values (values.yaml). */
export async function overwriteChartValues(chartDir: string, values: Record<string, unknown>): Promise<void> {
  await writeFile(join(chartDir, 'values.yaml'), stringify(values));
}

/** How to reach a dependency's chart repository (credentials from the HelmRepository with that URL). */
export interface DependencyRepository {
  access: RepositoryAccess;
  passCredentials?: boolean;
}

/**
 * Fetches the chart's missing dependencies with `helm dependency build`: every http(s) repository they name is
 * added to the private helm home first, with the credentials `lookup` finds for its URL (password on stdin,
 * TLS files inside the home). Returns how many dependencies were resolved; 0 when none was missing.
 */
export async function buildDependencies(
  home: HelmHome,
  chartDir: string,
  meta: ChartMetadata,
  lookup: (url: string) => Promise<DependencyRepository | undefined>,
  signal: AbortSignal,
): Promise<number> {
  const deps = meta.dependencies ?? [];
  const present = await readdir(join(chartDir, 'charts')).catch(() => [] as string[]);
  const missing = deps.filter(
    (d) =>
      !present.some(
        (entry) => entry === d.name || (entry.startsWith(`${d.name}-`) && entry.endsWith('.tgz')),
      ),
  );
  if (missing.length === 0) return 0;
  const urls = [...new Set(missing.map((d) => d.repository ?? '').filter((r) => /^https?:\/\//.test(r)))];
  try {
    for (const [i, url] of urls.entries()) {
      const repo = await lookup(url);
      const args = ['repo', 'add', `dep-${i}`, url, '--force-update'];
      let stdin: string | undefined;
      const access = repo?.access ?? {};
      if (access.basicAuth) {
        args.push('--username', access.basicAuth.username, '--password-stdin');
        stdin = access.basicAuth.password;
      }
      if (repo?.passCredentials) args.push('--pass-credentials');
      if (access.ca) args.push('--ca-file', await home.writeFile(`dep-${i}-ca.crt`, access.ca));
      if (access.cert && access.key) {
        args.push('--cert-file', await home.writeFile(`dep-${i}-tls.crt`, access.cert));
        args.push('--key-file', await home.writeFile(`dep-${i}-tls.key`, access.key));
      }
      await home.run(args, { signal, stdin });
    }
    await home.run(['dependency', 'build', chartDir, '--skip-refresh'], { signal });
  } catch (error) {
    if (signal.aborted) throw error;
    throw new ChartBuildError(
      'DependencyBuildError',
      `failed to build dependencies of '${meta.name}': ${(error as Error).message}`,
      { cause: error },
    );
  }
  return missing.length;
}

/** `helm package` of a chart directory into `outDir` at `version`; returns the .tgz path. */
export async function packageChart(
  home: HelmHome,
  chartDir: string,
  outDir: string,
  version: string,
  signal: AbortSignal,
): Promise<string> {
  try {
    const out = await home.run(['package', chartDir, '--destination', outDir, '--version', version], {
      signal,
    });
    const file = /saved it to: (.+\.tgz)\s*$/m.exec(out)?.[1];
    if (!file) throw new Error(`helm package printed no package path: ${out.trim()}`);
    return file.trim();
  } catch (error) {
    if (signal.aborted) throw error;
    throw new ChartBuildError('ChartPackageError', `failed to package chart: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
