import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  type KubernetesObject,
  type V1ConfigMap,
} from '@kubernetes/client-node';
import { parse } from 'yaml';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startDevCluster, type DevCluster } from '../src/devcluster/dev-cluster.ts';
import { eventually } from './harness/eventually.ts';
import { createRepo, type TestRepo } from './harness/git-repo.ts';
import { startHttpGitServer, type HttpGitServer } from './harness/git-servers.ts';
import { kubectl, startOperator, stopOperators } from './harness/operator.ts';
import { measureStartMs, startsBudgetMs } from './harness/budget.ts';
import { KEDGE_CLI } from './harness/kedge-cli.ts';

/*
 * Operator mode on a control plane of this file's own: one with Flux's own CRDs installed (as on a cluster that
 * ran Flux), whose kube-apiserver the tests may restart.
 */
let cluster: DevCluster;
let core: CoreV1Api;
let custom: CustomObjectsApi;
let objects: KubernetesObjectApi;
const fluxCrds = resolve(import.meta.dirname, 'fixtures/flux-crds');
const watches: AbortController[] = [];
/** One `kedge` start on this machine now; the operator costs about that. */
const cliStartMs = await measureStartMs([...KEDGE_CLI, '--version']);
afterEach(() => watches.splice(0).forEach((w) => w.abort()));

beforeAll(async () => {
  cluster = await startDevCluster({
    onProgress: (line) => process.stderr.write(`[operator-cluster] ${line}\n`),
  });
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  core = kc.makeApiClient(CoreV1Api);
  custom = kc.makeApiClient(CustomObjectsApi);
  objects = KubernetesObjectApi.makeApiClient(kc);
  await kubectl(cluster.kubeconfigPath, ['apply', '--server-side', '-f', fluxCrds]);
  await kubectl(cluster.kubeconfigPath, [
    'wait',
    '--for=condition=Established',
    'crd',
    '--all',
    '--timeout=60s',
  ]);
}, 240_000);
afterAll(async () => cluster?.stop(), 60_000);

const configMaps = (ns: string, greeting = 'hello'): Record<string, string> => ({
  'deploy/config.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config, namespace: ${ns}}\ndata: {greeting: "${greeting}"}\n`,
  'deploy/extra.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra, namespace: ${ns}}\ndata: {k: v}\n`,
});

const gitRepository = (ns: string, url: string) => ({
  apiVersion: 'source.toolkit.fluxcd.io/v1',
  kind: 'GitRepository',
  metadata: { name: 'app', namespace: ns },
  spec: { interval: '10m', url, ref: { branch: 'main' } },
});
const kustomization = (ns: string, name = 'app', path = './deploy') => ({
  apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
  kind: 'Kustomization',
  metadata: { name, namespace: ns },
  spec: { interval: '10m', path, prune: true, sourceRef: { kind: 'GitRepository', name: 'app' } },
});

interface Tracked {
  uid?: string;
  resourceVersion?: string;
}

describe('operator mode on a cluster of its own', () => {
  let ns: string;
  let repo: TestRepo;
  let git: HttpGitServer;
  /** Flux's CRD accepts only http(s) and ssh URLs: the repository is served over smart HTTP. */
  let url: string;

  beforeEach(async () => {
    ns = `kedge-op-${randomBytes(4).toString('hex')}`;
    await core.createNamespace({ body: { metadata: { name: ns } } });
    repo = createRepo({ files: configMaps(ns) });
    git = await startHttpGitServer({ root: dirname(repo.dir) });
    url = git.url(repo.name);
  });
  afterEach(async () => {
    await stopOperators();
    await git.stop();
    rmSync(dirname(repo.dir), { recursive: true, force: true });
    await core.deleteNamespace({ name: ns }).catch(() => undefined);
  });

  const ksStatus = async (name = 'app') =>
    (
      (await custom.getNamespacedCustomObject({
        group: 'kustomize.toolkit.fluxcd.io',
        version: 'v1',
        namespace: ns,
        plural: 'kustomizations',
        name,
      })) as {
        status?: {
          lastHandledReconcileAt?: string;
          lastAppliedRevision?: string;
          conditions?: { type: string; status: string; message: string }[];
        };
      }
    ).status;
  const tracked = async (): Promise<Record<string, Tracked>> => {
    const out: Record<string, Tracked> = {};
    for (const name of ['web-config', 'extra']) {
      const cm = await core.readNamespacedConfigMap({ name, namespace: ns });
      out[name] = { uid: cm.metadata?.uid, resourceVersion: cm.metadata?.resourceVersion };
    }
    return out;
  };
  /** Sets reconcile.fluxcd.io/requestedAt and waits until Kedge handled it with Ready=True. */
  const reconciled = async (name = 'app') => {
    const token = `${Date.now()}-${randomBytes(2).toString('hex')}`;
    await kubectl(cluster.kubeconfigPath, [
      'annotate',
      '--overwrite',
      '-n',
      ns,
      `kustomization/${name}`,
      `reconcile.fluxcd.io/requestedAt=${token}`,
    ]);
    await eventually(
      async () => {
        const status = await ksStatus(name);
        const ready = status?.conditions?.find((c) => c.type === 'Ready');
        if (status?.lastHandledReconcileAt !== token) throw new Error(`request ${token} not handled yet`);
        if (ready?.status !== 'True') throw new Error(`Ready is ${ready?.status}: ${ready?.message}`);
        return true;
      },
      { timeoutMs: 120_000, what: `Kustomization ${name} to handle reconcile request ${token}` },
    );
  };

  it(
    'takes over from Flux: its first reconcile of the unchanged revision changes no managed object',
    async () => {
      const commit = repo.revParse();
      const revision = `main@sha1:${commit}`;
      const owner = {
        'kustomize.toolkit.fluxcd.io/name': 'app',
        'kustomize.toolkit.fluxcd.io/namespace': ns,
      };
      // What Flux's kustomize-controller applied: the rendered objects with its owner labels, as field manager
      // kustomize-controller by server-side apply.
      for (const file of Object.values(configMaps(ns))) {
        const object = parse(file) as V1ConfigMap;
        object.metadata!.labels = { ...object.metadata!.labels, ...owner };
        await objects.patch(
          object,
          undefined,
          undefined,
          'kustomize-controller',
          true,
          PatchStrategy.ServerSideApply,
        );
      }
      // The sources and Kustomizations as Flux left them: spec as the user applied it, status as Flux wrote it.
      await objects.create(gitRepository(ns, url));
      await setStatus('source.toolkit.fluxcd.io', 'gitrepositories', 'app', {
        observedGeneration: 1,
        artifact: {
          path: `gitrepository/${ns}/app/${commit}.tar.gz`,
          url: `http://source-controller.flux-system.svc.cluster.local./gitrepository/${ns}/app/${commit}.tar.gz`,
          revision,
          digest: `sha256:${'0'.repeat(64)}`,
          lastUpdateTime: new Date().toISOString(),
          size: 1024,
        },
        conditions: [
          condition('Ready', 'True', 'Succeeded', `stored artifact for revision '${revision}'`),
          condition('ArtifactInStorage', 'True', 'Succeeded', `stored artifact for revision '${revision}'`),
        ],
      });
      await objects.create({
        ...kustomization(ns),
        metadata: { name: 'app', namespace: ns, finalizers: ['finalizers.fluxcd.io'] },
      });
      await setStatus('kustomize.toolkit.fluxcd.io', 'kustomizations', 'app', {
        observedGeneration: 1,
        lastAppliedRevision: revision,
        lastAttemptedRevision: revision,
        inventory: {
          entries: [
            { id: `${ns}_extra__ConfigMap`, v: 'v1' },
            { id: `${ns}_web-config__ConfigMap`, v: 'v1' },
          ],
        },
        conditions: [condition('Ready', 'True', 'ReconciliationSucceeded', `Applied revision: ${revision}`)],
      });
      const before = await tracked();
      const deletions = await watchConfigMapDeletions(ns);

      const operator = await startOperator(cluster.kubeconfigPath, { namespace: ns });
      // Kedge fetches the source again (Flux's artifact is not in its storage) and reconciles the Kustomization.
      await eventually(
        async () => {
          const source = (await custom.getNamespacedCustomObject({
            group: 'source.toolkit.fluxcd.io',
            version: 'v1',
            namespace: ns,
            plural: 'gitrepositories',
            name: 'app',
          })) as {
            status?: { artifact?: { url?: string; revision?: string } };
          };
          return (
            source.status?.artifact?.url?.startsWith('http://127.0.0.1') &&
            source.status.artifact.revision === revision
          );
        },
        { timeoutMs: 120_000, what: "the GitRepository to hold Kedge's artifact of the same revision" },
      );
      await reconciled();

      // Not one managed object written, deleted or recreated; Kedge kept Flux's CRDs as they are.
      expect(await tracked()).toEqual(before);
      expect(deletions()).toEqual([]);
      const status = await ksStatus();
      expect(status?.lastAppliedRevision).toBe(revision);
      const crd = JSON.parse(
        await kubectl(cluster.kubeconfigPath, [
          'get',
          'crd',
          'kustomizations.kustomize.toolkit.fluxcd.io',
          '-o',
          'json',
        ]),
      ) as { metadata: { labels?: Record<string, string> } };
      expect(crd.metadata.labels?.['app.kubernetes.io/part-of']).not.toBe('kedge');
      expect(operator.output()).not.toMatch(/level":50|ERROR/);
    },
    startsBudgetMs(2, cliStartMs, 3 * 120_000),
  );

  it(
    'resumes its watches after a kube-apiserver restart, losing nothing and re-applying nothing',
    async () => {
      await startOperator(cluster.kubeconfigPath, { namespace: ns });
      await objects.create(gitRepository(ns, url));
      await objects.create(kustomization(ns));
      await eventually(
        async () => (await ksStatus())?.lastAppliedRevision === `main@sha1:${repo.revParse()}`,
        {
          timeoutMs: 120_000,
          what: 'the Kustomization to apply the first commit',
        },
      );
      const before = await tracked();

      await cluster.restartKubeApiserver();

      // A request made after the restart is seen (the Kustomization watch resumed) and re-applies nothing.
      await reconciled();
      expect(await tracked()).toEqual(before);
      // A Kustomization created after the restart is reconciled; a commit is applied; drift is still undone.
      const next = repo.commit({
        'deploy/second.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: second, namespace: ${ns}}\ndata: {k: v}\n`,
      });
      await kubectl(cluster.kubeconfigPath, [
        'annotate',
        '--overwrite',
        '-n',
        ns,
        'gitrepository/app',
        `reconcile.fluxcd.io/requestedAt=${Date.now()}`,
      ]);
      await eventually(async () => (await ksStatus())?.lastAppliedRevision === `main@sha1:${next}`, {
        timeoutMs: 120_000,
        what: 'the new commit to be applied',
      });
      await core.readNamespacedConfigMap({ name: 'second', namespace: ns });
      expect(await tracked()).toEqual(before);
      await core.deleteNamespacedConfigMap({ name: 'extra', namespace: ns });
      await eventually(
        async () => (await core.readNamespacedConfigMap({ name: 'extra', namespace: ns })).data?.k === 'v',
        {
          timeoutMs: 60_000,
          what: 'the drift watch to restore a deleted ConfigMap after the restart',
        },
      );
    },
    startsBudgetMs(2, cliStartMs, 4 * 120_000 + 60_000),
  );

  async function setStatus(group: string, plural: string, name: string, status: unknown): Promise<void> {
    const current = (await custom.getNamespacedCustomObject({
      group,
      version: 'v1',
      namespace: ns,
      plural,
      name,
    })) as KubernetesObject;
    await custom.replaceNamespacedCustomObjectStatus({
      group,
      version: 'v1',
      namespace: ns,
      plural,
      name,
      body: { ...current, status },
    });
  }
});

function condition(type: string, status: string, reason: string, message: string) {
  return {
    type,
    status,
    reason,
    message,
    observedGeneration: 1,
    lastTransitionTime: new Date().toISOString(),
  };
}

/** Records every DELETED event of a ConfigMap in `ns` from now on; stopped after the test. */
async function watchConfigMapDeletions(ns: string): Promise<() => string[]> {
  const { Watch } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  const deleted: string[] = [];
  const controller = await new Watch(kc).watch(
    `/api/v1/namespaces/${ns}/configmaps`,
    {},
    (type, object: KubernetesObject) => {
      if (type === 'DELETED') deleted.push(object.metadata?.name ?? '');
    },
    () => undefined,
  );
  watches.push(controller);
  return () => deleted;
}
