import type { Command } from 'commander';
import { parseDuration } from '../../api/duration.ts';
import type { KObject } from '../../api/meta.ts';
import { CliError } from '../cli-error.ts';
import { commandAt } from '../command-path.ts';
import { addStoreOptions, globalOptions, withStore } from '../global-options.ts';
import { mark } from '../output/style.ts';
import { mutate, requestReconcile, setSuspend, waitForReconcile } from '../reconcile-request.ts';
import { describeKind, resourceTypes, type ResourceType } from '../resource-types.ts';
import { requireRunningEngine } from '../running-engine.ts';

const ForceAnnotation = 'reconcile.fluxcd.io/forceAt';
const ResetAnnotation = 'reconcile.fluxcd.io/resetAt';

interface Options {
  namespace: string;
  timeout: string;
  /** Kustomization and HelmRelease: reconcile the source first. */
  withSource?: boolean;
  /** HelmRelease: run a one-off install or upgrade (`reconcile.fluxcd.io/forceAt`). */
  force?: boolean;
  /** HelmRelease: reset the failure counters (`reconcile.fluxcd.io/resetAt`). */
  reset?: boolean;
}

/** `kedge reconcile|suspend|resume source git NAME`, as flux has them, for every resource type. */
export function registerReconcileCommands(program: Command): void {
  const reconcile = program.command('reconcile').description('reconcile an object now and wait for the result');
  const suspend = program.command('suspend').description('stop reconciling an object');
  const resume = program.command('resume').description('resume reconciling a suspended object and wait for the result');
  for (const type of resourceTypes) {
    const leaf = withFlags(commandAt(reconcile, type.singular, '<name>', `reconcile a ${type.kind}`, [], type.shortName));
    if (type.kind === 'Kustomization' || type.kind === 'HelmRelease') leaf.option('--with-source', 'reconcile the source first');
    if (type.kind === 'HelmRelease')
      leaf
        .option('--force', 'force a one-off install or upgrade of the release')
        .option('--reset', 'reset the failure counters, so a release out of retries is attempted again');
    leaf.action(
      async (name: string, opts: Options, command: Command) => runReconcile(command, type, name, opts),
    );
    withFlags(commandAt(suspend, type.singular, '<name>', `suspend a ${type.kind}`, [], type.shortName)).action(
      async (name: string, opts: Options, command: Command) => {
        const ref = { kind: type.kind, namespace: opts.namespace, name };
        await withStore(globalOptions(command), (store) => mutate(store, ref, (o) => setSuspend(o, true)));
        process.stdout.write(`${mark.success(`${type.singular.join(' ')} ${name} suspended`)}\n`);
      },
    );
    withFlags(commandAt(resume, type.singular, '<name>', `resume a ${type.kind}`, [], type.shortName)).action(
      async (name: string, opts: Options, command: Command) => runReconcile(command, type, name, opts, true),
    );
  }
}

function withFlags(command: Command): Command {
  return addStoreOptions(command)
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .option('--timeout <duration>', 'how long to wait for the result', '5m');
}

async function runReconcile(command: Command, type: ResourceType, name: string, opts: Options, resume = false): Promise<void> {
  const options = globalOptions(command);
  const ref = { kind: type.kind, namespace: opts.namespace, name };
  const what = `${type.singular.join(' ')} ${name}`;
  const timeoutMs = parseDuration(opts.timeout);
  await withStore(options, async (store) => {
    const current = await store.get(ref);
    if (!current) throw new CliError(`${type.kind} '${opts.namespace}/${name}' not found`);
    if (!resume && (current.spec as { suspend?: boolean } | undefined)?.suspend) {
      throw new CliError(`${what} is suspended: resume it first with 'kedge resume ${type.singular.join(' ')} ${name}'`);
    }
    // An engine on the cluster cannot be seen from here: `flux reconcile` waits for it all the same.
    const engineRunning =
      options.store === 'kubernetes' || (await requireRunningEngine(options.dataDir).then(() => true, () => false));
    if (resume) {
      const token = await requestReconcile(store, ref, (o) => setSuspend(o, false));
      process.stdout.write(`${mark.action(`${what} resumed`)}\n`);
      if (!engineRunning) {
        process.stdout.write(`${mark.waiting('no engine is running on this data dir: it will reconcile when one starts')}\n`);
        return;
      }
      return report(await waitForReconcile(store, ref, token, timeoutMs), what);
    }
    if (!engineRunning) await requireRunningEngine(options.dataDir);
    if (opts.withSource) await reconcileSourceOf(store, current, timeoutMs);
    process.stdout.write(`${mark.action(`annotating ${what}`)}\n`);
    const token = await requestReconcile(store, ref, (object, at) => {
      const asks = { ...(opts.force ? { [ForceAnnotation]: at } : {}), ...(opts.reset ? { [ResetAnnotation]: at } : {}) };
      object.metadata.annotations = { ...object.metadata.annotations, ...asks };
    });
    process.stdout.write(`${mark.waiting(`waiting for ${what} reconciliation`)}\n`);
    report(await waitForReconcile(store, ref, token, timeoutMs), what);
  });
}

function report({ object, ready }: Awaited<ReturnType<typeof waitForReconcile>>, what: string): void {
  if (ready.status !== 'True') throw new CliError(`${what} reconciliation failed: ${ready.message}`);
  const revision = (object.status as { artifact?: { revision?: string }; lastAppliedRevision?: string } | undefined);
  const fetched = revision?.artifact?.revision ?? revision?.lastAppliedRevision;
  process.stdout.write(`${mark.success(`${what} reconciliation completed`)}\n`);
  if (fetched) process.stdout.write(`${mark.success(`fetched revision ${fetched}`)}\n`);
}

/** The source of a Kustomization (`sourceRef`) or a HelmRelease (its HelmChart, or `chartRef`). */
function sourceOf(object: KObject): { kind: string; namespace: string; name: string } {
  const namespace = object.metadata.namespace ?? 'default';
  const spec = object.spec as {
    sourceRef?: { kind: string; name: string; namespace?: string };
    chartRef?: { kind: string; name: string; namespace?: string };
    chart?: { spec: { sourceRef: { namespace?: string } } };
  };
  const ref = spec.sourceRef ?? spec.chartRef;
  if (ref) return { kind: ref.kind, namespace: ref.namespace ?? namespace, name: ref.name };
  const chartNamespace = spec.chart?.spec.sourceRef.namespace ?? namespace;
  return { kind: 'HelmChart', namespace: chartNamespace, name: `${namespace}-${object.metadata.name}` };
}

/** `--with-source`: reconcile the object's source and wait for it, as `flux reconcile ks|hr --with-source`. */
async function reconcileSourceOf(store: Parameters<typeof requestReconcile>[0], kustomization: KObject, timeoutMs: number): Promise<void> {
  const ref = sourceOf(kustomization);
  const what = `${describeKind(ref.kind)} ${ref.name}`;
  process.stdout.write(`${mark.action(`annotating ${what}`)}\n`);
  const token = await requestReconcile(store, ref);
  process.stdout.write(`${mark.waiting(`waiting for ${what} reconciliation`)}\n`);
  report(await waitForReconcile(store, ref, token, timeoutMs), what);
}
