import type { Command } from 'commander';
import { CliError } from '../cli-error.ts';
import { mark, style } from '../output/style.ts';

interface ClusterOptions {
  kubeconfig?: string;
  context?: string;
  namespace: string;
}

interface InstallCliOptions extends ClusterOptions {
  export?: boolean;
  output: string;
  replicas: string;
  image?: string;
  wait?: boolean;
  timeout: string;
}

interface UninstallCliOptions extends ClusterOptions {
  deleteCrds?: boolean;
  yes?: boolean;
}

/**
 * `kedge install [--export]` and `kedge uninstall`: Kedge in a cluster as an operator (CRDs, namespace, RBAC,
 * a Deployment running `kedge up --store kubernetes --leader-elect`, Services), as `flux install` does.
 */
export function registerInstallCommands(program: Command): void {
  const cluster = (command: Command): Command =>
    command
      .option('--kubeconfig <file>', 'kubeconfig file (default: KUBECONFIG, ~/.kube/config, in-cluster)')
      .option('--context <name>', 'kubeconfig context (default: its current context)')
      .option('-n, --namespace <ns>', 'namespace Kedge runs in', 'kedge-system');
  cluster(program.command('install'))
    .description(
      'install Kedge in a Kubernetes cluster (CRDs, namespace, RBAC, Deployment, Services), or print it with --export',
    )
    .option('--export', 'print the manifests to stdout instead of applying them')
    .option('-o, --output <format>', 'with --export: yaml or json', 'yaml')
    .option('--replicas <n>', 'Kedge replicas; one leads, the others stand by (leader election)', '1')
    .option(
      '--image <image>',
      "Kedge's container image, built from the repository's Dockerfile (default: ghcr.io/kedge-dev/kedge:v<this version>)",
    )
    .option('--wait', 'wait until the Deployment is Available')
    .option('--timeout <duration>', 'how long to wait for CRDs (and with --wait the Deployment)', '5m')
    .action(async (opts: InstallCliOptions) => runInstall(opts));
  cluster(program.command('uninstall'))
    .description('remove what kedge install created; custom resources and CRDs stay unless --delete-crds')
    .option('--delete-crds', "also delete Kedge's CRDs and with them EVERY custom resource of their kinds")
    .option('-y, --yes', 'with --delete-crds: do not ask for confirmation')
    .action(async (opts: UninstallCliOptions) => runUninstall(opts));
}

async function runInstall(opts: InstallCliOptions): Promise<void> {
  const replicas = Number(opts.replicas);
  if (!Number.isInteger(replicas) || replicas < 0)
    throw new CliError(`--replicas must be a whole number, not '${opts.replicas}'`);
  if (opts.output !== 'yaml' && opts.output !== 'json')
    throw new CliError(`--output must be yaml or json, not '${opts.output}'`);
  const [{ installManifests }, { parseDuration }] = await Promise.all([
    import('../../install/install-manifests.ts'),
    import('../../api/duration.ts'),
  ]);
  const timeoutMs = parseDuration(opts.timeout);
  const objects = installManifests({
    namespace: opts.namespace,
    version: await kedgeVersion(),
    image: opts.image,
    replicas,
  });
  if (opts.export) {
    process.stdout.write(await formatManifests(objects, opts.output));
    return;
  }
  const { applyInstall } = await import('../../install/install-apply.ts');
  const { InstallNames } = await import('../../install/install-manifests.ts');
  await withTarget(opts, async (target) => {
    await applyInstall(target, objects, reporter(), timeoutMs);
    if (opts.wait) {
      say(
        mark.waiting(`waiting for Deployment/${opts.namespace}/${InstallNames.deployment} to be Available`),
      );
      const { waitForHealthy } = await import('../../apply/health.ts');
      await waitForHealthy(
        target,
        [
          {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            namespace: opts.namespace,
            name: InstallNames.deployment,
          },
        ],
        { timeoutMs },
      );
    }
  });
  say(mark.success(`Kedge is installed in namespace ${opts.namespace}`));
  if (!opts.wait)
    say(
      style.dim(
        `  kubectl -n ${opts.namespace} rollout status deployment/${InstallNames.deployment}   # wait for it to run`,
      ),
    );
}

async function runUninstall(opts: UninstallCliOptions): Promise<void> {
  if (opts.deleteCrds) {
    const warning =
      "--delete-crds deletes Kedge's CustomResourceDefinitions and with them EVERY GitRepository, Kustomization, Provider, Alert, Receiver and App in the cluster (what they applied stays)";
    process.stderr.write(`${style.yellow(`⚠ ${warning}`)}\n`);
    if (!opts.yes && !(await confirm('delete them? [y/N] ')))
      throw new CliError(
        process.stdin.isTTY
          ? 'uninstall cancelled'
          : 'not confirmed: add --yes to delete the CRDs without a question',
      );
  }
  const [{ installManifests }, { uninstall }] = await Promise.all([
    import('../../install/install-manifests.ts'),
    import('../../install/install-apply.ts'),
  ]);
  const objects = installManifests({ namespace: opts.namespace, version: await kedgeVersion() });
  await withTarget(opts, (target) =>
    uninstall(
      target,
      objects,
      { namespace: opts.namespace, deleteCrds: opts.deleteCrds === true },
      reporter(),
    ),
  );
  say(
    mark.success(
      `Kedge is uninstalled from namespace ${opts.namespace}${opts.deleteCrds ? '' : '; custom resources and CRDs stay'}`,
    ),
  );
}

const say = (line: string): void => void process.stdout.write(`${line}\n`);

function reporter(): import('../../install/install-apply.ts').InstallReport {
  return {
    progress: (line) => say(mark.action(line)),
    object: (subject, action, note) => {
      const text = `${subject} ${action}${note ? ` (${note})` : ''}`;
      say(action === 'kept' || action === 'not found' ? mark.waiting(text) : mark.success(text));
    },
  };
}

async function withTarget<T>(
  opts: ClusterOptions,
  fn: (target: import('../../apply/kube-client.ts').KubeTarget) => Promise<T>,
): Promise<T> {
  const [{ KubeTarget }, { storeKubeConfig }] = await Promise.all([
    import('../../apply/kube-client.ts'),
    import('../../store/kubernetes/store-kubeconfig.ts'),
  ]);
  const target = new KubeTarget(storeKubeConfig({ kubeconfig: opts.kubeconfig, context: opts.context }));
  try {
    return await fn(target);
  } finally {
    target.close();
  }
}

async function formatManifests(objects: readonly object[], format: string): Promise<string> {
  if (format === 'json')
    return `${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }, null, 2)}\n`;
  const { stringify } = await import('yaml');
  return objects.map((o) => `---\n${stringify(o, { lineWidth: 0, aliasDuplicateObjects: false })}`).join('');
}

async function kedgeVersion(): Promise<string> {
  const [{ readFile }, { packagePath }] = await Promise.all([
    import('node:fs/promises'),
    import('../../package-paths.ts'),
  ]);
  return (JSON.parse(await readFile(packagePath('package.json'), 'utf8')) as { version: string }).version;
}

async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}
