import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { KObject } from '../src/api/meta.ts';
import { startDevCluster, type DevCluster } from '../src/devcluster/dev-cluster.ts';
import { measureStartMs, startsBudgetMs } from './harness/budget.ts';
import { eventually } from './harness/eventually.ts';
import { createRepo } from './harness/git-repo.ts';
import { freePort } from './harness/git-servers.ts';
import { KEDGE_CLI } from './harness/kedge-cli.ts';
import { kedgeCli, kubectl } from './harness/operator.ts';
import { runTracked, spawnTracked } from './harness/tracked-process.ts';

/*
 * What `kedge install` deploys, short of a container runtime (this machine has no Docker engine): the image the
 * Deployment names is the repository's Dockerfile's, and the Deployment's container command line — run as a
 * process with a pod's environment (KUBERNETES_SERVICE_HOST/PORT, the service account's token, CA and namespace
 * files laid out as a pod has them, no kubeconfig anywhere) — starts Kedge in-cluster, as the install's service
 * account under the install's RBAC, and reconciles. A control plane of its own: the installed Kedge watches every
 * namespace, as the Deployment does.
 */

const root = join(import.meta.dirname, '..');
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');

interface Container {
  name: string;
  image: string;
  command: string[];
  args: string[];
  env: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  volumeMounts: { name: string; mountPath: string }[];
}

async function exported(...args: string[]): Promise<KObject[]> {
  const run = await kedgeCli(['install', '--export', '-o', 'json', ...args], startsBudgetMs(1, cliStartMs));
  expect(run.code, run.stderr).toBe(0);
  return (JSON.parse(run.stdout) as { items: KObject[] }).items;
}

function containerOf(objects: KObject[]): Container {
  const deployment = objects.find((o) => o.kind === 'Deployment') as KObject & {
    spec: { template: { spec: { containers: Container[]; initContainers?: unknown[] } } };
  };
  expect(deployment.spec.template.spec.initContainers).toBeUndefined();
  return deployment.spec.template.spec.containers[0]!;
}

let cliStartMs = 0;
let cluster: DevCluster | undefined;
let work = '';

beforeAll(async () => {
  cliStartMs = await measureStartMs([...KEDGE_CLI, '--version']);
  work = mkdtempSync(join(tmpdir(), 'kedge-install-container-'));
  cluster = await startDevCluster({
    onProgress: (line) => process.stderr.write(`[install-container] ${line}\n`),
  });
}, 240_000);

afterAll(async () => {
  await cluster?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
}, 60_000);

describe('the image kedge install deploys', () => {
  it("names the release image of this version by default, built from the repository's Dockerfile", async () => {
    expect(containerOf(await exported()).image).toBe(`ghcr.io/kedge-dev/kedge:v${version}`);
    expect(containerOf(await exported('--image', 'registry.local/kedge:dev')).image).toBe(
      'registry.local/kedge:dev',
    );

    // The container's `kedge` is the image's CLI; the tools the engine runs are built by the same pinned scripts
    // the engine's own binary lookups use, and found through the variables those lookups read.
    expect(containerOf(await exported()).command).toEqual(['kedge']);
    expect(dockerfile).toMatch(/ln -s \/opt\/kedge\/bin\/kedge\.js \/usr\/local\/bin\/kedge/);
    for (const script of ['build-kustomize.sh', 'build-helm.sh', 'build-sops.sh'])
      expect(dockerfile).toContain(`bash scripts/${script}`);
    for (const variable of ['KEDGE_KUSTOMIZE_BIN', 'KEDGE_HELM_BIN', 'KEDGE_SOPS_DIR'])
      expect(dockerfile).toMatch(new RegExp(`${variable}=/opt/kedge/tools`));
    expect(dockerfile).toMatch(/apt-get install[^\n]* git /);
    // The Node image of the engine's Node version (package.json engines).
    const engines = (
      JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } }
    ).engines.node;
    const nodeMajor = /ARG NODE_VERSION=(\d+)\./.exec(dockerfile)?.[1];
    expect(engines).toBe(`>=${nodeMajor}`);
    // A read-only root file system: the process writes to its data dir and /tmp (emptyDirs) only.
    expect(dockerfile).toMatch(/HOME=\/tmp/);
    expect(dockerfile).toMatch(/USER 1000:1000/);
  }, 120_000);

  it("the Deployment's command line runs Kedge in-cluster as the install's service account and reconciles", async () => {
    const kubeconfig = cluster!.kubeconfigPath;
    const namespace = 'kedge-system';
    const installed = await kedgeCli(
      ['install', '--kubeconfig', kubeconfig, '--image', 'registry.local/kedge:dev'],
      startsBudgetMs(1, cliStartMs, 120_000),
    );
    expect(installed.code, installed.stderr).toBe(0);
    const container = JSON.parse(
      await kubectl(kubeconfig, [
        '-n',
        namespace,
        'get',
        'deployment',
        'kedge',
        '-o',
        'jsonpath={.spec.template.spec.containers[0]}',
      ]),
    ) as Container;

    // The pod's files: the service account's token (a TokenRequest, as the kubelet mounts), the cluster's CA,
    // the namespace; the Deployment's emptyDirs as directories.
    const podRoot = join(work, 'pod');
    const saDir = join(podRoot, 'var/run/secrets/kubernetes.io/serviceaccount');
    mkdirSync(saDir, { recursive: true });
    const token = await kubectl(kubeconfig, [
      '-n',
      namespace,
      'create',
      'token',
      'kedge',
      '--duration',
      '1h',
    ]);
    writeFileSync(join(saDir, 'token'), token.trim());
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    const server = new URL(kc.getCurrentCluster()!.server);
    writeFileSync(join(saDir, 'ca.crt'), Buffer.from(kc.getCurrentCluster()!.caData!, 'base64'));
    writeFileSync(join(saDir, 'namespace'), namespace);
    const mounts = new Map<string, string>();
    for (const mount of container.volumeMounts) {
      const dir = join(podRoot, 'volumes', mount.name);
      mkdirSync(dir, { recursive: true });
      mounts.set(mount.mountPath, dir);
    }
    const inPod = (value: string) => {
      for (const [path, dir] of mounts)
        if (value === path || value.startsWith(`${path}/`)) return dir + value.slice(path.length);
      return value;
    };

    // The command line as the Deployment has it; only what a pod gets from its volumes and its own network
    // differs: mount paths map to the directories above, listen addresses to free loopback ports.
    const metricsPort = await freePort();
    const args: string[] = [];
    for (const arg of container.args) {
      const [flag, value] = arg.split(/=(.*)/s, 2) as [string, string | undefined];
      if (value === undefined) args.push(arg);
      else if (/^--(storage|metrics|receiver)-addr$/.test(flag))
        args.push(`${flag}=127.0.0.1:${flag === '--metrics-addr' ? metricsPort : await freePort()}`);
      else args.push(`${flag}=${inPod(value)}`);
    }
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      NO_COLOR: '1',
      KUBERNETES_SERVICE_HOST: server.hostname,
      KUBERNETES_SERVICE_PORT: server.port,
      KEDGE_IN_CLUSTER_ROOT: podRoot,
    };
    // What the image's ENV adds (see the Dockerfile): the renderer it carries prebuilt, here the test run's build.
    const renderer = await runTracked('bash', [join(root, 'scripts/build-kustomize.sh')], {
      timeoutMs: 900_000,
    });
    expect(renderer.code, renderer.stderr).toBe(0);
    env.KEDGE_KUSTOMIZE_BIN = renderer.stdout.trim().split('\n').at(-1);
    for (const e of container.env) {
      if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') env[e.name] = namespace;
      else if (e.value !== undefined) env[e.name] = inPod(e.value);
    }
    expect(container.command).toEqual(['kedge']);
    expect(env.KUBECONFIG).toBeUndefined();
    const child = spawnTracked(process.execPath, [...KEDGE_CLI, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    onTestFinished(async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    });

    const started = startsBudgetMs(1, cliStartMs, 60_000);
    const readyz = await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`kedge exited ${child.exitCode}:\n${output}`);
        const answer = await fetch(`http://127.0.0.1:${metricsPort}/readyz`).catch(() => undefined);
        const text = answer?.ok ? await answer.text() : undefined;
        return text?.includes('leader') && !text.includes('follower') ? text : undefined;
      },
      {
        timeoutMs: started + 30_000,
        intervalMs: 200,
        what: `/readyz to say leader (output: ${output.slice(-500)})`,
      },
    );
    expect(readyz).toContain('ok: leader');

    // A Flux user's GitRepository and Kustomization, applied with the admin kubeconfig.
    const repo = createRepo({
      files: {
        'deploy/config.yaml':
          'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config}\ndata: {greeting: hello}\n',
      },
    });
    onTestFinished(() => rmSync(repo.dir, { recursive: true, force: true }));
    const manifests = join(work, 'flux.yaml');
    writeFileSync(
      manifests,
      `apiVersion: v1
kind: Namespace
metadata: {name: team}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: app, namespace: team}
spec: {interval: 10m, url: "${repo.url}", ref: {branch: main}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: app, namespace: team}
spec: {interval: 10m, path: ./deploy, prune: true, targetNamespace: team, sourceRef: {kind: GitRepository, name: app}}
`,
    );
    await kubectl(kubeconfig, ['apply', '-f', manifests]);
    await kubectl(
      kubeconfig,
      [
        '-n',
        'team',
        'wait',
        'kustomization/app',
        '--for=condition=Ready',
        `--timeout=${Math.ceil(started / 1000) + 120}s`,
      ],
      started + 180_000,
    );
    expect(
      await kubectl(kubeconfig, [
        '-n',
        'team',
        'get',
        'configmap',
        'web-config',
        '-o',
        'jsonpath={.data.greeting}',
      ]),
    ).toBe('hello');
    // Artifact URLs name the install's Service, never the pod's 0.0.0.0.
    const url = await kubectl(kubeconfig, [
      '-n',
      'team',
      'get',
      'gitrepository',
      'app',
      '-o',
      'jsonpath={.status.artifact.url}',
    ]);
    expect(url).toMatch(
      /^http:\/\/source-controller\.kedge-system\.svc\.cluster\.local\.\/gitrepository\/team\/app\//,
    );
    // It held the install's Lease, as the service account the install created.
    expect(
      await kubectl(kubeconfig, [
        '-n',
        namespace,
        'get',
        'lease',
        'kedge-leader',
        '-o',
        'jsonpath={.spec.holderIdentity}',
      ]),
    ).not.toBe('');
    const canI = await kubectl(kubeconfig, [
      'auth',
      'can-i',
      'update',
      'kustomizations.kustomize.toolkit.fluxcd.io',
      '--subresource=status',
      '-n',
      'team',
      `--as=system:serviceaccount:${namespace}:kedge`,
    ]);
    expect(canI.trim()).toBe('yes');
  }, 600_000);
});
