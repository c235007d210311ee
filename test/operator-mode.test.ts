import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from './harness/eventually.ts';
import { createRepo, type TestRepo } from './harness/git-repo.ts';
import { kubeTestContext } from './harness/kube.ts';
import { measureStartMs, startsBudgetMs } from './harness/budget.ts';
import { KEDGE_CLI } from './harness/kedge-cli.ts';
import { kedgeCli, kubectl, startOperator, stopOperators } from './harness/operator.ts';

const kube = kubeTestContext();
/** One `kedge` start on this machine now: the operator and each CLI call cost about that much. */
const cliStartMs = await measureStartMs([...KEDGE_CLI, '--version']);

/** Two ConfigMaps, as a repository a Flux user deploys would hold them. */
const appFiles = (greeting: string, withExtra = true): Record<string, string | null> => ({
  'deploy/config.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config}\ndata: {greeting: "${greeting}"}\n`,
  'deploy/extra.yaml': withExtra
    ? `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\ndata: {k: v}\n`
    : null,
});

/** A GitRepository and a Kustomization exactly as a Flux user writes them (only the file:// URL is Kedge's). */
const fluxManifests = (ns: string, url: string, extra = '') => `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: app, namespace: ${ns}}
spec: {interval: 10m, url: "${url}", ref: {branch: main}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: app, namespace: ${ns}}
spec:
  interval: 10m
  path: ./deploy
  prune: true
  targetNamespace: ${ns}
  sourceRef: {kind: GitRepository, name: app}
${extra}`;

describe("operator mode: Flux custom resources on the cluster are Kedge's API", () => {
  let repo: TestRepo;
  let ns: string;
  let manifests: string;

  beforeEach(() => {
    ns = kube.namespace();
    repo = createRepo({ files: appFiles('hello') });
    manifests = join(dirname(repo.dir), 'flux.yaml');
  });
  afterEach(async () => {
    await stopOperators();
    rmSync(dirname(repo.dir), { recursive: true, force: true });
  });

  const readyOf = async (name: string) => {
    const ks = (await kube.custom.getNamespacedCustomObject({
      group: 'kustomize.toolkit.fluxcd.io',
      version: 'v1',
      namespace: ns,
      plural: 'kustomizations',
      name,
    })) as {
      status?: {
        lastHandledReconcileAt?: string;
        lastAppliedRevision?: string;
        conditions?: { type: string; status: string; reason: string; message: string }[];
      };
    };
    return { status: ks.status, ready: ks.status?.conditions?.find((c) => c.type === 'Ready') };
  };

  it(
    'reconciles what kubectl applied; kubectl get/wait/annotate/delete and kedge get --kubeconfig work as with Flux',
    async () => {
      await startOperator(kube.kubeconfigPath, { namespace: ns });
      writeFileSync(manifests, fluxManifests(ns, repo.url));
      await kubectl(kube.kubeconfigPath, ['apply', '-f', manifests]);

      // kubectl wait on the Ready condition, as with Flux.
      await kubectl(kube.kubeconfigPath, [
        'wait',
        '--for=condition=Ready',
        `kustomization/app`,
        '-n',
        ns,
        '--timeout=120s',
      ]);
      const revision = `main@sha1:${repo.revParse()}`;
      const table = await kubectl(kube.kubeconfigPath, ['get', 'kustomizations', '-n', ns]);
      expect(table).toMatch(new RegExp(`app\\s.*True\\s+Applied revision: ${revision}`));
      expect(await kubectl(kube.kubeconfigPath, ['get', 'gitrepositories', '-n', ns])).toMatch(/app\s.*True/);
      expect((await kube.core.readNamespacedConfigMap({ name: 'web-config', namespace: ns })).data).toEqual({
        greeting: 'hello',
      });
      const config = await kube.core.readNamespacedConfigMap({ name: 'web-config', namespace: ns });
      expect(config.metadata?.labels).toMatchObject({
        'kustomize.toolkit.fluxcd.io/name': 'app',
        'kustomize.toolkit.fluxcd.io/namespace': ns,
      });

      // The CLI reads the same custom resources when given the kubeconfig.
      const get = await kedgeCli(['get', 'ks', '-n', ns, '--kubeconfig', kube.kubeconfigPath]);
      expect(get.stderr).toBe('');
      expect(get.stdout).toMatch(new RegExp(`app\\s.*${revision.replace(/[@]/g, '.')}`));

      // kubectl annotate requestedAt: a new commit is fetched and applied now, not at the 10m interval.
      const second = repo.commit(appFiles('bonjour'));
      const token = `${Date.now()}`;
      await kubectl(kube.kubeconfigPath, [
        'annotate',
        '--overwrite',
        '-n',
        ns,
        'gitrepository/app',
        `reconcile.fluxcd.io/requestedAt=${token}`,
      ]);
      await eventually(
        async () => (await readyOf('app')).status?.lastAppliedRevision === `main@sha1:${second}`,
        {
          timeoutMs: 120_000,
          what: 'the annotated GitRepository to fetch and the Kustomization to apply the new commit',
        },
      );
      expect((await kube.core.readNamespacedConfigMap({ name: 'web-config', namespace: ns })).data).toEqual({
        greeting: 'bonjour',
      });
      const ksToken = `${Date.now()}-ks`;
      await kubectl(kube.kubeconfigPath, [
        'annotate',
        '--overwrite',
        '-n',
        ns,
        'kustomization/app',
        `reconcile.fluxcd.io/requestedAt=${ksToken}`,
      ]);
      await eventually(async () => (await readyOf('app')).status?.lastHandledReconcileAt === ksToken, {
        timeoutMs: 120_000,
        what: 'status.lastHandledReconcileAt to echo the annotation',
      });

      // kedge reconcile through the cluster: sets requestedAt and waits for lastHandledReconcileAt.
      const reconcile = await kedgeCli([
        'reconcile',
        'ks',
        'app',
        '-n',
        ns,
        '--kubeconfig',
        kube.kubeconfigPath,
        '--timeout',
        '2m',
      ]);
      expect(reconcile.stderr).toBe('');
      expect(reconcile.stdout).toContain('kustomization app reconciliation completed');

      // kedge tree and kedge events read the cluster too: the inventory and the events.k8s.io Events.
      const tree = await kedgeCli(['tree', 'ks', 'app', '-n', ns, '--kubeconfig', kube.kubeconfigPath]);
      expect(tree.stdout).toBe(
        `Kustomization/${ns}/app\n├── ConfigMap/${ns}/extra\n└── ConfigMap/${ns}/web-config\n`,
      );
      const events = await kedgeCli([
        'events',
        '--for',
        'Kustomization/app',
        '-n',
        ns,
        '--kubeconfig',
        kube.kubeconfigPath,
      ]);
      expect(events.stdout).toContain(`ConfigMap/${ns}/web-config configured`);

      // Deleting the Kustomization prunes what it applied (prune: true), then the finalizer lets it go.
      await kubectl(kube.kubeconfigPath, ['delete', '-n', ns, 'kustomization/app', '--timeout=120s']);
      await expect(
        kube.core.readNamespacedConfigMap({ name: 'web-config', namespace: ns }),
      ).rejects.toThrow();
      await expect(kube.core.readNamespacedConfigMap({ name: 'extra', namespace: ns })).rejects.toThrow();
    },
    startsBudgetMs(4, cliStartMs, 5 * 120_000),
  );

  it(
    'a Kustomization the schema allows but Kedge cannot use is Stalled with an actionable message',
    async () => {
      await startOperator(kube.kubeconfigPath, { namespace: ns });
      writeFileSync(
        manifests,
        `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: loop, namespace: ${ns}}
spec:
  interval: 10m
  path: ./
  prune: true
  sourceRef: {kind: GitRepository, name: app}
  dependsOn: [{name: loop}]
`,
      );
      await kubectl(kube.kubeconfigPath, ['apply', '-f', manifests]);
      await kubectl(kube.kubeconfigPath, [
        'wait',
        '--for=condition=Stalled',
        'kustomization/loop',
        '-n',
        ns,
        '--timeout=120s',
      ]);
      const { ready } = await readyOf('loop');
      expect(ready).toMatchObject({ status: 'False' });
      expect(ready?.message).toContain(`circular dependency detected: ${ns}/loop -> ${ns}/loop`);
    },
    startsBudgetMs(2, cliStartMs, 120_000),
  );

  it(
    'refuses, through the API server, a Kustomization that fails the CRD schema, naming the field',
    async () => {
      await startOperator(kube.kubeconfigPath, { namespace: ns });
      writeFileSync(
        manifests,
        `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: bad, namespace: ${ns}}
spec:
  interval: 10m
  prune: "yes please"
  sourceRef: {kind: GitRepository, name: app}
`,
      );
      await expect(kubectl(kube.kubeconfigPath, ['apply', '-f', manifests])).rejects.toThrow(/spec\.prune/);
    },
    startsBudgetMs(2, cliStartMs, 60_000),
  );
});
