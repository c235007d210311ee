import type { Command } from 'commander';
import { parseDuration } from '../../api/duration.ts';
import type { KObject } from '../../api/meta.ts';
import { refOf, refString } from '../../api/meta.ts';
import { OwnerNameLabel, OwnerNamespaceLabel } from '../../apply/owner-labels.ts';
import type { Engine } from '../../engine.ts';
import { parseListenAddress } from '../../web/listen-address.ts';
import { applyObjects } from './apply.ts';
import { CliError } from '../cli-error.ts';
import { prepareExampleRepository } from '../example-repository.ts';
import { globalOptions, loggerFor } from '../global-options.ts';
import { mark, style } from '../output/style.ts';
import { OnceJudge, type Judged } from '../once-judge.ts';
import { reportProgress } from '../progress-reporter.ts';

interface UpOptions {
  filename?: string[];
  once?: boolean;
  timeout: string;
  storageAddr: string;
  storageAdvAddr?: string;
  metricsAddr: string;
  receiverAddr: string;
  artifactRetention: string;
  historyLimit: string;
  concurrency?: string;
  concurrent?: string;
  kubeconfig?: string;
  context?: string;
  store?: string;
  namespace?: string;
  watchAllNamespaces: string | boolean;
  watchLabelSelector?: string;
  requeueDependency: string;
  leaderElect?: string | boolean;
  leaderElectionLease?: string;
  leaveAppsRunning?: boolean;
  webAddr: string;
  webToken?: string;
}

/** `kedge up [-f FILE|DIR ...] [--once] [--timeout 2m]`: store the given objects and run the engine. */
export function registerUpCommand(program: Command): void {
  program
    .command('up')
    .description('run the engine on the data dir (with no -f and an empty store: the bundled example)')
    .option('-f, --filename <path...>', 'apply these YAML files or directories first')
    .option('--once', 'reconcile everything at its latest revision, then exit 0 if all are Ready, 1 if one failed or --timeout passes')
    .option('--timeout <duration>', 'with --once: how long to wait', '2m')
    .option('--storage-addr <host:port>', 'artifact server address (port 0: any free port)', '127.0.0.1:9090')
    .option('--storage-adv-addr <host[:port]>', "address in artifact URLs (default: in a pod, the install's source-controller Service; else the bound address)")
    .option('--metrics-addr <host:port>', 'metrics and health address', '127.0.0.1:8080')
    .option('--receiver-addr <host:port>', 'webhook receiver address (port 0: any free port)', '127.0.0.1:9292')
    .option('--artifact-retention <n>', 'artifacts kept per source besides the current one', '2')
    .option('--history-limit <n>', 'history entries kept per Kustomization and App', '100')
    .option('--concurrent <n>', "reconciles of one kind at once (default 4; Flux's flag name)")
    .option('--concurrency <n>', 'the same as --concurrent')
    .option('--store <kind>', "sqlite (the data dir, default) or kubernetes (operator mode: Flux's custom resources in the cluster); env KEDGE_STORE")
    .option('--kubeconfig <file>', 'sqlite store: the cluster Kustomizations apply Kubernetes kinds to (default none); kubernetes store: the cluster (default: in-cluster, else $KUBECONFIG or ~/.kube/config)')
    .option('--context <name>', 'a context of the kubeconfig')
    .option('--watch-all-namespaces [bool]', 'reconcile objects of every namespace; false: only those of --namespace', true)
    .option('--namespace <ns>', "with --watch-all-namespaces=false: the namespace to watch (default $RUNTIME_NAMESPACE, the pod's namespace, else default)")
    .option('--watch-label-selector <selector>', "reconcile only objects whose labels match, e.g. 'sharding.fluxcd.io/key in (shard1)'")
    .option('--leader-elect [bool]', 'reconcile only while holding the Lease (kedge-system/kedge-leader); for several replicas', false)
    .option('--leader-election-lease <ns/name>', 'the Lease of --leader-elect (default kedge-leader in $RUNTIME_NAMESPACE, else kedge-system)')
    .option('--requeue-dependency <duration>', 'wait before re-checking dependsOn that are not Ready, or a missing source', '30s')
    .option('--web-addr <host:port>', "dashboard address (port 0: any free port; 'off': no dashboard); off loopback it needs a token", '127.0.0.1:9393')
    .option('--web-token <token>', 'token the dashboard asks for (env KEDGE_WEB_TOKEN); generated and printed when serving off loopback without one')
    .option('--leave-apps-running', 'on stop, leave App replicas running; the next engine adopts them')
    .action(async (opts: UpOptions, command: Command) => runUp(opts, command));
}

async function runUp(opts: UpOptions, command: Command): Promise<void> {
  const options = globalOptions(command, { kubeconfigSelectsStore: false });
  const timeoutMs = parseDuration(opts.timeout);
  const operator = options.store === 'kubernetes';
  const watchAll = parseBoolean(opts.watchAllNamespaces, '--watch-all-namespaces');
  if (!operator && (!watchAll || opts.watchLabelSelector !== undefined))
    throw new CliError('--watch-all-namespaces=false and --watch-label-selector need --store kubernetes');
  if (opts.watchLabelSelector !== undefined) {
    const { LabelSelector } = await import('../../store/kubernetes/label-selector.ts');
    new LabelSelector(opts.watchLabelSelector);
  }
  parseDuration(opts.requeueDependency);
  if (opts.storageAdvAddr !== undefined) {
    const { urlOfAddress } = await import('../../source/artifact/advertised-url.ts');
    try {
      urlOfAddress(opts.storageAdvAddr);
    } catch (error) {
      throw new CliError((error as Error).message);
    }
  }
  const leaderElect = parseBoolean(opts.leaderElect ?? false, '--leader-elect');
  const lease = opts.leaderElectionLease === undefined ? undefined : parseLease(opts.leaderElectionLease);
  const objects = opts.filename ? await (await import('../../api/manifest.ts')).loadManifests(opts.filename) : [];
  const log = await loggerFor(options);
  const say = (line: string) => process.stdout.write(`${line}\n`);

  // As controller-runtime's managers: an instance that lost the lease stops and exits 1; its restart follows.
  let onLeadershipLost = (): void => process.exit(1);
  const judge = new OnceJudge();
  const { startEngine } = await import('../../engine.ts');
  const engine = await startEngine({
    dataDir: options.dataDir,
    storageAddress: parseListenAddress(opts.storageAddr, '--storage-addr'),
    storageAdvertisedAddress: opts.storageAdvAddr,
    metricsAddress: parseListenAddress(opts.metricsAddr, '--metrics-addr'),
    receiverAddress: parseListenAddress(opts.receiverAddr, '--receiver-addr'),
    artifactRetention: parseCount(opts.artifactRetention, '--artifact-retention', 0),
    historyLimit: parseCount(opts.historyLimit, '--history-limit', 1),
    concurrency: parseCount(opts.concurrent ?? opts.concurrency ?? '4', opts.concurrent ? '--concurrent' : '--concurrency', 1),
    store: options.store,
    kubeconfig: options.kubeconfig,
    kubeContext: options.context,
    watchNamespace: watchAll ? undefined : await watchedNamespace(opts.namespace),
    watchLabelSelector: opts.watchLabelSelector,
    requeueDependency: opts.requeueDependency,
    leaderElection: leaderElect
      ? {
          lease,
          // As controller-runtime's managers: an instance that lost the lease exits, its restart follows.
          onLost: () => onLeadershipLost(),
        }
      : undefined,
    hostRuntime: { leaveAppsRunning: opts.leaveAppsRunning === true },
    web: opts.webAddr === 'off' ? undefined : { address: parseListenAddress(opts.webAddr, '--web-addr'), token: opts.webToken ?? (process.env.KEDGE_WEB_TOKEN || undefined), optional: command.getOptionValueSource('webAddr') === 'default' },
    onReconcileFinished: opts.once ? (finished) => judge.record(finished) : undefined,
    log,
  });
  onLeadershipLost = () => {
    log.error('leader election lost: stopping; a restart runs as a follower');
    void engine.stop().finally(() => process.exit(1));
  };
  const stopReporting = reportProgress(engine.store, say);
  const stopped = onSignals(engine, log.info.bind(log));

  if (objects.length > 0) {
    for (const line of await applyObjects(engine.store, objects)) say(mark.action(line));
  } else if (!opts.filename && !operator && (await engine.store.list('GitRepository')).length === 0) {
    await bootstrapExample(engine, options.dataDir, say);
  }

  if (!opts.once) {
    const where = operator ? `the cluster's custom resources (data dir ${options.dataDir})` : options.dataDir;
    if (engine.web) say(dashboardLine(engine.web, opts.webToken ?? process.env.KEDGE_WEB_TOKEN));
    say(style.dim(`kedge is running on ${where} (metrics ${engine.metricsUrl}); Ctrl-C stops it`));
    await stopped;
    stopReporting();
    return;
  }
  const judged = await waitUntilJudged(engine, judge, objects, timeoutMs, stopped);
  stopReporting();
  say('');
  for (const { line } of judged) say(line);
  await engine.stop();
  process.exitCode = judged.every((j) => j.verdict === 'ready') ? 0 : 1;
}

async function bootstrapExample(engine: Engine, dataDir: string, say: (line: string) => void): Promise<void> {
  const example = await prepareExampleRepository(dataDir);
  for (const line of await applyObjects(engine.store, example.objects)) say(mark.action(line));
  say(
    [
      '',
      `The bundled example is a Git repository at ${example.repoDir}.`,
      'Kedge runs its app (deploy/app.yaml) as two processes behind http://127.0.0.1:3000 once it is Ready.',
      'Change it and watch Kedge roll it out:',
      `  curl http://127.0.0.1:3000`,
      `  cd ${example.repoDir} && sed -i s/hello$/howdy/ deploy/config.yaml && git commit -qam "say howdy"`,
      '  npx kedge reconcile kustomization hello --with-source   # or wait for the 30s interval',
      '  npx kedge get apps                                     # READY 2/2, the new revision',
      '  npx kedge logs app hello',
      '  npx kedge events',
      '',
    ].join('\n'),
  );
}

/**
 * Objects `--once` waits for, of the kinds a controller reconciles: everything in the store, or with -f the
 * given objects and what their Kustomizations applied to the store (Apps, nested Kustomizations, …).
 */
async function everyObject(engine: Engine, given: KObject[]): Promise<KObject[]> {
  const all = (await Promise.all(engine.manager.kinds().map((k) => engine.store.list(k)))).flat();
  if (given.length === 0) return all;
  const scope = new Set(given.map((o) => refString(refOf(o))));
  for (let grew = true; grew; ) {
    grew = false;
    for (const object of all) {
      const key = refString(refOf(object));
      const labels = object.metadata.labels ?? {};
      const owner = `Kustomization/${labels[OwnerNamespaceLabel]}/${labels[OwnerNameLabel]}`;
      if (scope.has(key) || !scope.has(owner)) continue;
      scope.add(key);
      grew = true;
    }
  }
  return all.filter((o) => scope.has(refString(refOf(o))));
}

/**
 * Judges every object (see {@link OnceJudge}) until none is pending any more: each has been reconciled by this
 * engine at what it should run now (a Kustomization at its source's current artifact, an App at its release),
 * and is Ready or has failed. On timeout or signal, the verdicts as they stand (pending ones count as failed).
 */
async function waitUntilJudged(engine: Engine, judge: OnceJudge, given: KObject[], timeoutMs: number, stopped: Promise<void>): Promise<Judged[]> {
  const deadline = Date.now() + timeoutMs;
  let interrupted = false;
  void stopped.then(() => (interrupted = true));
  for (;;) {
    const judged = await judge.judge(engine.store, await everyObject(engine, given));
    if (interrupted || Date.now() >= deadline || judged.every((j) => j.verdict !== 'pending')) return judged;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Where the dashboard is; a generated token is printed (one the user gave is not repeated). */
function dashboardLine(web: { url: string; token?: string }, given: string | undefined): string {
  if (web.token && !given) return mark.action(`dashboard ${web.url}/?token=${web.token} (generated token; set one with --web-token or KEDGE_WEB_TOKEN)`);
  return mark.action(`dashboard ${web.url}${web.token ? ' (token required)' : ''}`);
}

/** `--leader-election-lease namespace/name`. */
function parseLease(text: string): { namespace: string; name: string } {
  const [namespace, name, ...rest] = text.split('/');
  if (!namespace || !name || rest.length > 0) throw new CliError(`--leader-election-lease must be namespace/name, not '${text}'`);
  return { namespace, name };
}

/** A Go-style boolean flag: `--flag` (true), `--flag=true`, `--flag=false`. */
function parseBoolean(value: string | boolean, flag: string): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new CliError(`${flag} must be true or false, not '${value}'`);
}

/**
 * The namespace an engine with `--watch-all-namespaces=false` watches, as Flux's controllers find theirs:
 * `--namespace`, else `RUNTIME_NAMESPACE`, else the namespace of the pod's service account, else `default`.
 */
async function watchedNamespace(flag: string | undefined): Promise<string> {
  if (flag) return flag;
  if (process.env.RUNTIME_NAMESPACE) return process.env.RUNTIME_NAMESPACE;
  const { readFile } = await import('node:fs/promises');
  const pod = await readFile('/var/run/secrets/kubernetes.io/serviceaccount/namespace', 'utf8').catch(() => '');
  return pod.trim() || 'default';
}

/** A whole number flag of at least `min`. */
function parseCount(text: string, flag: string, min: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new CliError(`${flag} must be a whole number of at least ${min}, not '${text}'`);
  return value;
}

/** Resolves after the first SIGINT/SIGTERM has stopped the engine gracefully; a second signal exits at once. */
function onSignals(engine: Engine, info: (message: string) => void): Promise<void> {
  return new Promise((resolve) => {
    let received = false;
    const handler = (signal: NodeJS.Signals) => {
      if (received) process.exit(130);
      received = true;
      info(`${signal} received, stopping (again to force)`);
      void engine.stop().then(resolve);
    };
    process.once('SIGINT', handler);
    process.once('SIGTERM', handler);
  });
}
