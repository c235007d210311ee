import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { HelmReleaseSpec } from '../api/helmrelease.ts';
import { DEFAULT_HELM_TIMEOUT, DEFAULT_MAX_HISTORY } from '../api/helmrelease.ts';
import { runHelm, type HelmConnection } from './helm-command.ts';
import { PostRendererPluginName } from './post-renderer.ts';
import type { Values } from './release-values.ts';

/** One release of one HelmRelease, as the helm commands address it. */
export interface ReleaseTarget {
  /** Release name. */
  name: string;
  /** Where the release's objects go and where Helm stores it (`--namespace`). */
  namespace: string;
  connection: HelmConnection;
  /** Scratch dir of this action: values file, post-renderer plugin. */
  workDir: string;
  signal?: AbortSignal;
}

/** The chart and values of an install or upgrade. */
export interface ReleaseInput {
  /** A packaged chart (`.tgz`) or a chart directory. */
  chart: string;
  values: Values;
  /** Whether a post-renderer plugin was written to the connection's `plugins` dir. */
  postRender: boolean;
}

const timeoutOf = (spec: HelmReleaseSpec, own: string | undefined): string =>
  own ?? spec.timeout ?? DEFAULT_HELM_TIMEOUT;

/** `--wait` (Helm 4's watcher, kstatus) unless disabled, with `--wait-for-jobs` unless disabled too. */
function waitFlags(options: { disableWait?: boolean; disableWaitForJobs?: boolean } | undefined): string[] {
  if (options?.disableWait) return ['--wait=hookOnly'];
  return options?.disableWaitForJobs ? ['--wait=watcher'] : ['--wait=watcher', '--wait-for-jobs'];
}

async function valuesFile(target: ReleaseTarget, values: Values): Promise<string> {
  const file = path.join(target.workDir, 'values.json');
  // JSON is YAML: helm reads it with -f and stores exactly these values as the release's config.
  await writeFile(file, JSON.stringify(values), { mode: 0o600 });
  return file;
}

/** `helm install` with the spec's install options (Flux's defaults: wait, create CRDs, no namespace creation). */
export async function installRelease(
  spec: HelmReleaseSpec,
  target: ReleaseTarget,
  input: ReleaseInput,
): Promise<void> {
  const install = spec.install ?? {};
  const crds = install.crds ?? (install.skipCRDs ? 'Skip' : 'Create');
  const args = [
    'install',
    target.name,
    input.chart,
    '--namespace',
    target.namespace,
    '-f',
    await valuesFile(target, input.values),
    '--timeout',
    timeoutOf(spec, install.timeout),
    '--hide-notes',
    ...waitFlags(install),
  ];
  if (crds === 'Skip') args.push('--skip-crds');
  if (install.createNamespace) args.push('--create-namespace');
  if (install.disableHooks) args.push('--no-hooks');
  if (install.disableOpenAPIValidation) args.push('--disable-openapi-validation');
  if (install.disableSchemaValidation) args.push('--skip-schema-validation');
  if (install.replace) args.push('--replace');
  if (install.serverSideApply !== undefined) args.push(`--server-side=${install.serverSideApply}`);
  if (input.postRender) args.push('--post-renderer', PostRendererPluginName);
  await runHelm(args, target.connection, { signal: target.signal });
}

/** `helm upgrade` with the spec's upgrade options; values are reset to the chart's plus ours unless preserved. */
export async function upgradeRelease(
  spec: HelmReleaseSpec,
  target: ReleaseTarget,
  input: ReleaseInput,
): Promise<void> {
  const upgrade = spec.upgrade ?? {};
  const args = [
    'upgrade',
    target.name,
    input.chart,
    '--namespace',
    target.namespace,
    '-f',
    await valuesFile(target, input.values),
    '--timeout',
    timeoutOf(spec, upgrade.timeout),
    '--history-max',
    String(spec.maxHistory ?? DEFAULT_MAX_HISTORY),
    '--hide-notes',
    upgrade.preserveValues ? '--reuse-values' : '--reset-values',
    ...waitFlags(upgrade),
  ];
  if (!upgrade.disableTakeOwnership) args.push('--take-ownership');
  if (upgrade.disableHooks) args.push('--no-hooks');
  if (upgrade.disableOpenAPIValidation) args.push('--disable-openapi-validation');
  if (upgrade.disableSchemaValidation) args.push('--skip-schema-validation');
  if (upgrade.force) args.push('--force-replace');
  if (upgrade.cleanupOnFail) args.push('--cleanup-on-fail');
  if (upgrade.serverSideApply) args.push(`--server-side=${serverSide(upgrade.serverSideApply)}`);
  if (input.postRender) args.push('--post-renderer', PostRendererPluginName);
  await runHelm(args, target.connection, { signal: target.signal });
}

/** `helm test` with the spec's filters; resolves helm's report, rejects with the failed test's error. */
export async function testRelease(spec: HelmReleaseSpec, target: ReleaseTarget): Promise<string> {
  const test = spec.test ?? {};
  const args = [
    'test',
    target.name,
    '--namespace',
    target.namespace,
    '--timeout',
    timeoutOf(spec, test.timeout),
  ];
  for (const filter of test.filters ?? [])
    args.push('--filter', `${filter.exclude ? '!' : ''}name=${filter.name}`);
  return runHelm(args, target.connection, { signal: target.signal });
}

/** `helm rollback` to `version` (default: the previous release) with the spec's rollback options. */
export async function rollbackRelease(
  spec: HelmReleaseSpec,
  target: ReleaseTarget,
  version?: number,
): Promise<void> {
  const rollback = spec.rollback ?? {};
  const args = ['rollback', target.name];
  if (version !== undefined) args.push(String(version));
  args.push(
    '--namespace',
    target.namespace,
    '--timeout',
    timeoutOf(spec, rollback.timeout),
    '--history-max',
    String(spec.maxHistory ?? DEFAULT_MAX_HISTORY),
    ...waitFlags(rollback),
  );
  if (rollback.disableHooks) args.push('--no-hooks');
  if (rollback.force) args.push('--force-replace');
  if (rollback.cleanupOnFail) args.push('--cleanup-on-fail');
  if (rollback.serverSideApply) args.push(`--server-side=${serverSide(rollback.serverSideApply)}`);
  await runHelm(args, target.connection, { signal: target.signal });
}

/** `helm uninstall` with the spec's uninstall options (Flux waits for deletion unless `disableWait`). */
export async function uninstallRelease(spec: HelmReleaseSpec, target: ReleaseTarget): Promise<void> {
  const uninstall = spec.uninstall ?? {};
  const args = [
    'uninstall',
    target.name,
    '--namespace',
    target.namespace,
    '--timeout',
    timeoutOf(spec, uninstall.timeout),
    '--ignore-not-found',
    '--cascade',
    uninstall.deletionPropagation ?? 'background',
    uninstall.disableWait ? '--wait=hookOnly' : '--wait=watcher',
  ];
  if (uninstall.disableHooks) args.push('--no-hooks');
  if (uninstall.keepHistory) args.push('--keep-history');
  await runHelm(args, target.connection, { signal: target.signal });
}

/** What an upgrade would render, as the server would accept it (`helm upgrade --dry-run=server`): the manifest. */
export async function dryRunUpgrade(
  spec: HelmReleaseSpec,
  target: ReleaseTarget,
  input: ReleaseInput,
): Promise<string> {
  const args = [
    'upgrade',
    target.name,
    input.chart,
    '--install',
    '--namespace',
    target.namespace,
    '-f',
    await valuesFile(target, input.values),
    '--reset-values',
    '--dry-run=server',
    '-o',
    'json',
  ];
  if (input.postRender) args.push('--post-renderer', PostRendererPluginName);
  const out = await runHelm(args, target.connection, { signal: target.signal });
  return (JSON.parse(out) as { manifest?: string }).manifest ?? '';
}

function serverSide(mode: 'enabled' | 'disabled' | 'auto'): string {
  return mode === 'enabled' ? 'true' : mode === 'disabled' ? 'false' : 'auto';
}
