import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { measureStartMs, startsBudgetMs } from './harness/budget.ts';
import { eventually } from './harness/eventually.ts';
import { createRepo, type TestRepo } from './harness/git-repo.ts';
import { KEDGE_CLI } from './harness/kedge-cli.ts';
import { kubeTestContext } from './harness/kube.ts';
import { kubectl, startOperator, stopOperators, type OperatorProcess } from './harness/operator.ts';

const kube = kubeTestContext();
/** One `kedge` start on this machine now; each engine costs about that. */
const cliStartMs = await measureStartMs([...KEDGE_CLI, '--version']);
const count = 50;
/** controller-runtime's lease duration, Kedge's default. */
const leaseDurationMs = 15_000;

describe('two engines with --leader-elect', () => {
  let repo: TestRepo;
  let ns: string;

  beforeEach(() => {
    ns = kube.namespace();
    const files: Record<string, string> = {};
    for (let i = 0; i < count; i++) {
      files[`apps/app-${i}/config.yaml`] = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config-${i}}\ndata: {index: "${i}"}\n`;
      files[`apps/app-${i}/extra.yaml`] = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra-${i}}\ndata: {k: v}\n`;
    }
    repo = createRepo({ files });
  });
  afterEach(async () => {
    await stopOperators();
    rmSync(dirname(repo.dir), { recursive: true, force: true });
  });

  /** Names of this test's Kustomizations that are Ready=True, from the cluster. */
  const readyKustomizations = async (): Promise<string[]> => {
    const list = JSON.parse(await kubectl(kube.kubeconfigPath, ['get', 'kustomizations', '-n', ns, '-o', 'json'])) as {
      items: { metadata: { name: string }; status?: { conditions?: { type: string; status: string }[] } }[];
    };
    return list.items.filter((k) => k.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).map((k) => k.metadata.name);
  };
  const reconcileTotal = async (engine: OperatorProcess): Promise<number> => {
    const url = /metrics (http:\/\/[^)\s]+)/.exec(engine.output())?.[1];
    if (!url) throw new Error(`no metrics URL in the output:\n${engine.output()}`);
    const text = await (await fetch(`${url}/metrics`)).text();
    return [...text.matchAll(/^kedge_reconcile_total\{[^}]*\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
  };

  it('only the leader reconciles; kill -9 of the leader mid-apply: the other takes over, all end Ready, nothing recreated', async () => {
    const lease = ['--leader-elect', '--leader-election-lease', `${ns}/kedge-leader`, '--concurrent', '2'];
    const first = await startOperator(kube.kubeconfigPath, { namespace: ns, args: lease });
    await eventually(async () => (await kubectl(kube.kubeconfigPath, ['get', 'lease', 'kedge-leader', '-n', ns, '-o', 'jsonpath={.spec.holderIdentity}'])).includes(`_${first.pid}_`), {
      timeoutMs: 60_000,
      what: 'the first engine to hold the lease',
    });
    const second = await startOperator(kube.kubeconfigPath, { namespace: ns, args: lease });
    const created: Record<string, string> = {};
    const deleted: string[] = [];
    const watch = await kube.watch(`/api/v1/namespaces/${ns}/configmaps`);

    const manifests = join(dirname(repo.dir), 'flux.yaml');
    const docs = [`apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: apps, namespace: ${ns}}\nspec: {interval: 10m, url: "${repo.url}", ref: {branch: main}}\n`];
    for (let i = 0; i < count; i++) {
      docs.push(
        `apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: app-${i}, namespace: ${ns}}\nspec: {interval: 10m, path: ./apps/app-${i}, prune: true, targetNamespace: ${ns}, sourceRef: {kind: GitRepository, name: apps}}\n`,
      );
    }
    writeFileSync(manifests, docs.join('---\n'));
    await kubectl(kube.kubeconfigPath, ['apply', '-f', manifests]);

    // Mid-apply: some Kustomizations are Ready, not all. Only the leader has reconciled anything.
    await eventually(async () => (await readyKustomizations()).length >= 3, { timeoutMs: 120_000, what: 'the leader to apply a few Kustomizations' });
    expect(await reconcileTotal(second)).toBe(0);
    expect(await reconcileTotal(first)).toBeGreaterThan(0);
    const readyAtKill = (await readyKustomizations()).length;
    process.kill(-first.pid!, 'SIGKILL');
    const killedAt = Date.now();

    await eventually(async () => (await kubectl(kube.kubeconfigPath, ['get', 'lease', 'kedge-leader', '-n', ns, '-o', 'jsonpath={.spec.holderIdentity}'])).includes(`_${second.pid}_`), {
      timeoutMs: leaseDurationMs + 60_000,
      what: 'the second engine to take the lease',
    });
    const tookOverMs = Date.now() - killedAt;
    await eventually(async () => (await readyKustomizations()).length === count, { timeoutMs: 300_000, intervalMs: 1000, what: `all ${count} Kustomizations Ready` });
    expect(await reconcileTotal(second)).toBeGreaterThan(0);

    // No managed object was deleted or created twice: each ConfigMap was added once, never deleted.
    for (const event of watch.events) {
      const name = event.object.metadata?.name ?? '';
      if (event.type === 'DELETED') deleted.push(name);
      if (event.type === 'ADDED') {
        expect(created[name], `${name} added twice`).toBeUndefined();
        created[name] = event.object.metadata?.uid ?? '';
      }
    }
    expect(deleted).toEqual([]);
    const live = await kube.core.listNamespacedConfigMap({ namespace: ns });
    const managed = live.items.filter((c) => c.metadata?.labels?.['kustomize.toolkit.fluxcd.io/name']);
    expect(managed).toHaveLength(2 * count);
    for (const cm of managed) expect(cm.metadata?.uid).toBe(created[cm.metadata!.name!]);
    process.stderr.write(`[leader-election] killed with ${readyAtKill}/${count} Ready; the follower held the lease ${tookOverMs} ms later\n`);
  }, startsBudgetMs(2, cliStartMs, 120_000 + leaseDurationMs + 60_000 + 300_000));
});
