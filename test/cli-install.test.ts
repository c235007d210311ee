import { customResourceDefinitions } from '../src/api/crds.ts';
import { beforeAll, describe, expect, it } from 'vitest';
import { LoadHeadroom, measureStartMs, startsBudgetMs } from './harness/budget.ts';
import { KEDGE_CLI } from './harness/kedge-cli.ts';
import { kubeTestContext } from './harness/kube.ts';
import { execFileTracked, runTracked, spawnTracked } from './harness/tracked-process.ts';

/*
 * `kedge install` / `kedge uninstall` against the run's real API server. The shared control plane has no nodes,
 * so the Deployment's pods are never scheduled: these tests check what the API server holds, not a running pod.
 * Each test installs into its own test namespace (the harness's), so cluster-scoped names (suffixed with the
 * namespace) never collide between tests.
 */
const kube = kubeTestContext();

const crdNames = [
  'gitrepositories.source.toolkit.fluxcd.io',
  'kustomizations.kustomize.toolkit.fluxcd.io',
  'providers.notification.toolkit.fluxcd.io',
  'alerts.notification.toolkit.fluxcd.io',
  'receivers.notification.toolkit.fluxcd.io',
  'apps.kedge.dev',
];

let startMs = 0;
beforeAll(async () => {
  startMs = await measureStartMs([...KEDGE_CLI, '--version']);
});

/** One `kedge` run (TypeScript sources); budget: a start plus what it waits for (CRDs Established). */
function kedge(...args: string[]) {
  return runTracked(process.execPath, [...KEDGE_CLI, ...args, '--kubeconfig', kube.kubeconfigPath], {
    env: { ...process.env, NO_COLOR: '1' },
    timeoutMs: startsBudgetMs(1, startMs, 60_000),
  });
}

async function kubectl(...args: string[]): Promise<string> {
  const { stdout } = await execFileTracked('kubectl', ['--kubeconfig', kube.kubeconfigPath, ...args], {
    timeoutMs: 60_000,
  });
  return stdout.trim();
}

/** resourceVersion of every object install creates in `ns` (and the cluster-scoped ones named after it). */
async function versions(ns: string): Promise<string> {
  return [
    await kubectl('get', 'crd', ...crdNames, '-o', 'jsonpath={.items[*].metadata.resourceVersion}'),
    await kubectl('get', 'namespace', ns, '-o', 'jsonpath={.metadata.resourceVersion}'),
    await kubectl(
      '-n',
      ns,
      'get',
      'serviceaccount/kedge',
      'deployment/kedge',
      'service/source-controller',
      'service/webhook-receiver',
      'role/kedge-leader-election',
      'rolebinding/kedge-leader-election',
      '-o',
      'jsonpath={.items[*].metadata.resourceVersion}',
    ),
    await kubectl(
      'get',
      `clusterrole/kedge-controller-${ns}`,
      `clusterrolebinding/kedge-controller-${ns}`,
      `clusterrolebinding/kedge-cluster-reconciler-${ns}`,
      '-o',
      'jsonpath={.items[*].metadata.resourceVersion}',
    ),
  ].join(' ');
}

describe('kedge install / uninstall', () => {
  it('installs the CRDs (Established), namespace, RBAC, Deployment and Services; a second run changes nothing', async () => {
    const ns = kube.namespace();
    const first = await kedge('install', '--namespace', ns);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`✔ Deployment/${ns}/kedge created`);
    expect(first.stdout).toContain(`✔ Kedge is installed in namespace ${ns}`);

    for (const crd of crdNames)
      expect(
        await kubectl(
          'get',
          'crd',
          crd,
          '-o',
          'jsonpath={.status.conditions[?(@.type=="Established")].status}',
        ),
      ).toBe('True');
    const deployment = JSON.parse(await kubectl('-n', ns, 'get', 'deployment', 'kedge', '-o', 'json')) as {
      spec: {
        replicas: number;
        template: {
          spec: {
            serviceAccountName: string;
            containers: {
              image: string;
              args: string[];
              securityContext: { readOnlyRootFilesystem: boolean; runAsNonRoot: boolean };
            }[];
          };
        };
      };
    };
    const container = deployment.spec.template.spec.containers[0]!;
    expect(deployment.spec.replicas).toBe(1);
    expect(deployment.spec.template.spec.serviceAccountName).toBe('kedge');
    expect(container.image).toMatch(/^ghcr\.io\/kedge-dev\/kedge:v\d+\.\d+\.\d+/);
    expect(container.args).toEqual(
      expect.arrayContaining([
        'up',
        '--store=kubernetes',
        '--leader-elect',
        '--storage-addr=0.0.0.0:9090',
        `--storage-adv-addr=source-controller.${ns}.svc.cluster.local.`,
      ]),
    );
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, runAsNonRoot: true });
    expect(
      await kubectl(
        '-n',
        ns,
        'get',
        'service',
        'source-controller',
        '-o',
        'jsonpath={.spec.ports[0].port}->{.spec.ports[0].targetPort}',
      ),
    ).toBe('80->http');
    expect(
      await kubectl(
        '-n',
        ns,
        'get',
        'service',
        'webhook-receiver',
        '-o',
        'jsonpath={.spec.ports[0].port}->{.spec.ports[0].targetPort}',
      ),
    ).toBe('80->http-webhook');

    // RBAC as the API server evaluates it for Kedge's service account.
    const as = ['--as', `system:serviceaccount:${ns}:kedge`];
    const canI = (...args: string[]) =>
      runTracked('kubectl', ['--kubeconfig', kube.kubeconfigPath, 'auth', 'can-i', ...as, ...args], {
        timeoutMs: 60_000,
      }).then((r) => r.stdout.trim());
    expect(await canI('watch', 'kustomizations.kustomize.toolkit.fluxcd.io', '--all-namespaces')).toBe('yes');
    expect(
      await canI(
        'patch',
        'gitrepositories.source.toolkit.fluxcd.io',
        '--subresource=status',
        '-n',
        'default',
      ),
    ).toBe('yes');
    expect(await canI('update', 'leases.coordination.k8s.io', '-n', ns)).toBe('yes');
    expect(
      await kubectl(
        'get',
        'clusterrolebinding',
        `kedge-cluster-reconciler-${ns}`,
        '-o',
        'jsonpath={.roleRef.name}',
      ),
    ).toBe('cluster-admin');

    const before = await versions(ns);
    const second = await kedge('install', '--namespace', ns);
    expect(second.code).toBe(0);
    const lines = second.stdout
      .split('\n')
      .filter((l) => l.startsWith('✔ ') && !l.includes('Kedge is installed'));
    // One line per CRD, then the namespace, service account, RBAC (5), Deployment and Services (2).
    expect(lines.length).toBe(customResourceDefinitions().length + 10);
    expect(lines.filter((l) => !l.endsWith(' unchanged'))).toEqual([]);
    expect(await versions(ns)).toBe(before);
  }, 300_000);

  it('--export prints YAML that the API server accepts (kubectl apply --dry-run=server)', async () => {
    const ns = kube.namespace();
    const exported = await kedge(
      'install',
      '--export',
      '--namespace',
      ns,
      '--replicas',
      '2',
      '--image',
      'example.com/kedge:1.0',
    );
    expect(exported.code).toBe(0);
    expect(exported.stdout).toContain('kind: Deployment');
    expect(exported.stdout).toContain('image: example.com/kedge:1.0');
    const applied = await applyDryRun(exported.stdout);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toContain('deployment.apps/kedge created (server dry run)');
    expect(applied.stdout).toContain(
      'customresourcedefinition.apiextensions.k8s.io/gitrepositories.source.toolkit.fluxcd.io',
    );
    // Nothing was written.
    const missing = await runTracked(
      'kubectl',
      ['--kubeconfig', kube.kubeconfigPath, '-n', ns, 'get', 'deployment', 'kedge'],
      { timeoutMs: 60_000 },
    );
    expect(missing.stderr).toContain('NotFound');
  }, 300_000);

  it('uninstall removes what install created and keeps custom resources and CRDs', async () => {
    const ns = kube.namespace();
    expect((await kedge('install', '--namespace', ns)).code).toBe(0);
    await kube.apply({
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'GitRepository',
      metadata: { name: 'keep-me', namespace: ns },
      spec: { url: 'https://example.com/repo.git', interval: '5m', ref: { branch: 'main' } },
    });
    const removed = await kedge('uninstall', '--namespace', ns);
    expect(removed.stderr).toBe('');
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain(`Namespace/${ns} kept (it holds 1 custom resource(s))`);
    for (const what of [
      'deployment/kedge',
      'service/source-controller',
      'service/webhook-receiver',
      'serviceaccount/kedge',
      'role/kedge-leader-election',
      'rolebinding/kedge-leader-election',
    ]) {
      const got = await runTracked('kubectl', ['--kubeconfig', kube.kubeconfigPath, '-n', ns, 'get', what], {
        timeoutMs: 60_000,
      });
      expect(got.stderr, what).toContain('NotFound');
    }
    for (const what of [
      `clusterrole/kedge-controller-${ns}`,
      `clusterrolebinding/kedge-controller-${ns}`,
      `clusterrolebinding/kedge-cluster-reconciler-${ns}`,
    ]) {
      const got = await runTracked('kubectl', ['--kubeconfig', kube.kubeconfigPath, 'get', what], {
        timeoutMs: 60_000,
      });
      expect(got.stderr, what).toContain('NotFound');
    }
    expect(await kubectl('-n', ns, 'get', 'gitrepository', 'keep-me', '-o', 'jsonpath={.spec.url}')).toBe(
      'https://example.com/repo.git',
    );
    expect(await kubectl('get', 'crd', 'gitrepositories.source.toolkit.fluxcd.io', '-o', 'name')).toBe(
      'customresourcedefinition.apiextensions.k8s.io/gitrepositories.source.toolkit.fluxcd.io',
    );
  }, 300_000);

  it('uninstall --delete-crds refuses to run unconfirmed without a terminal', async () => {
    const refused = await kedge('uninstall', '--namespace', kube.namespace(), '--delete-crds');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('EVERY GitRepository, Kustomization');
    expect(refused.stderr).toContain('add --yes');
    expect(await kubectl('get', 'crd', 'gitrepositories.source.toolkit.fluxcd.io', '-o', 'name')).toContain(
      'gitrepositories',
    );
  }, 120_000);
});

/** `kubectl apply --dry-run=server -f -` with `yaml` on stdin. */
function applyDryRun(yaml: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnTracked(
    'kubectl',
    ['--kubeconfig', kube.kubeconfigPath, 'apply', '--dry-run=server', '-f', '-'],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(yaml);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`kubectl apply --dry-run=server did not end; ${stderr}`)),
      60_000 * LoadHeadroom,
    );
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
