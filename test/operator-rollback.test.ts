import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HistoryEntry } from '../src/api/history.ts';
import { eventually } from './harness/eventually.ts';
import { createRepo, type TestRepo } from './harness/git-repo.ts';
import { kubeTestContext } from './harness/kube.ts';
import { kedgeCli, kubectl, startOperator, stopOperators } from './harness/operator.ts';

const kube = kubeTestContext();

const appFiles = (greeting: string): Record<string, string> => ({
  'deploy/config.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config}\ndata: {greeting: "${greeting}"}\n`,
});

const fluxManifests = (ns: string, url: string) => `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: app, namespace: ${ns}}
spec: {interval: 10m, url: "${url}", ref: {branch: main}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: app, namespace: ${ns}}
spec: {interval: 10m, path: ./deploy, prune: true, targetNamespace: ${ns}, sourceRef: {kind: GitRepository, name: app}}
`;

interface KustomizationView {
  metadata: { annotations?: Record<string, string> };
  status?: {
    lastAppliedRevision?: string;
    conditions?: { type: string; status: string; message: string }[];
    history?: { metadata?: Record<string, string> }[];
  };
}

describe('operator mode: history and rollback live on the cluster', () => {
  let repo: TestRepo;
  let ns: string;

  beforeEach(() => {
    ns = kube.namespace();
    repo = createRepo({ files: appFiles('hello') });
  });
  afterEach(async () => {
    await stopOperators();
    rmSync(dirname(repo.dir), { recursive: true, force: true });
  });

  const kustomization = async (): Promise<KustomizationView> =>
    (await kube.custom.getNamespacedCustomObject({
      group: 'kustomize.toolkit.fluxcd.io',
      version: 'v1',
      namespace: ns,
      plural: 'kustomizations',
      name: 'app',
    })) as KustomizationView;
  const applied = (commit: string) =>
    eventually(async () => (await kustomization()).status?.lastAppliedRevision === `main@sha1:${commit}`, {
      timeoutMs: 120_000,
      what: `the Kustomization at ${commit}`,
    });
  const greeting = async () =>
    (await kube.core.readNamespacedConfigMap({ name: 'web-config', namespace: ns })).data?.greeting;
  const kedge = async (...args: string[]) => {
    const run = await kedgeCli([...args, '-n', ns, '--kubeconfig', kube.kubeconfigPath]);
    if (run.code !== 0) throw new Error(`kedge ${args.join(' ')} exited ${run.code}: ${run.stderr}`);
    return run.stdout;
  };

  it('records history as ConfigMaps, rolls back with the hold on the object, and releases', async () => {
    await startOperator(kube.kubeconfigPath, { namespace: ns });
    const manifests = join(dirname(repo.dir), 'flux.yaml');
    writeFileSync(manifests, fluxManifests(ns, repo.url));
    await kubectl(kube.kubeconfigPath, ['apply', '-f', manifests]);
    const c1 = repo.revParse();
    await applied(c1);
    const c2 = repo.commit(appFiles('bonjour'));
    await kubectl(kube.kubeconfigPath, [
      'annotate',
      '--overwrite',
      '-n',
      ns,
      'gitrepository/app',
      `reconcile.fluxcd.io/requestedAt=${Date.now()}`,
    ]);
    await applied(c2);

    // History: ConfigMaps owned by the Kustomization, read by `kedge history`; Flux's status.history too.
    const entries = JSON.parse(await kedge('history', 'ks', 'app', '-o', 'json')) as HistoryEntry[];
    expect(entries.map((e) => e.revision)).toEqual([`main@sha1:${c2}`, `main@sha1:${c1}`]);
    const configMaps = JSON.parse(
      await kubectl(kube.kubeconfigPath, [
        'get',
        'configmaps',
        '-n',
        ns,
        '-l',
        'kedge.dev/history-kind=Kustomization',
        '-o',
        'json',
      ]),
    ) as { items: { metadata: { ownerReferences?: { kind: string; name: string }[] } }[] };
    expect(configMaps.items).toHaveLength(2);
    expect(configMaps.items[0]?.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'Kustomization', name: 'app' }),
    ]);
    expect((await kustomization()).status?.history?.map((s) => s.metadata?.revision)).toEqual([
      `main@sha1:${c2}`,
      `main@sha1:${c1}`,
    ]);

    // Rollback through the CLI: the hold is an annotation kubectl shows, the objects go back, `kedge get` says so.
    expect(await kedge('rollback', 'ks', 'app', '--steps', '1')).toContain(`rolled back to main@sha1:${c1}`);
    await eventually(async () => (await greeting()) === 'hello', {
      timeoutMs: 120_000,
      what: 'web-config back at hello',
    });
    const annotation = await kubectl(kube.kubeconfigPath, [
      'get',
      'kustomization/app',
      '-n',
      ns,
      '-o',
      'jsonpath={.metadata.annotations.kedge\\.dev/rollback}',
    ]);
    expect(JSON.parse(annotation)).toMatchObject({
      revision: `main@sha1:${c1}`,
      sourceRevision: `main@sha1:${c2}`,
    });
    await eventually(
      async () =>
        (await kustomization()).status?.conditions
          ?.find((c) => c.type === 'RolledBack')
          ?.message.startsWith(`held at main@sha1:${c1}, source is at main@sha1:${c2}`),
      { timeoutMs: 60_000, what: 'RolledBack=True on the Kustomization' },
    );
    expect(await kedge('get', 'ks')).toMatch(
      new RegExp(`app\\s+main.sha1.${c1}\\s+to main.sha1.${c1}\\s+false\\s+True`),
    );

    // Release: back to the source's revision.
    expect(await kedge('rollback', 'ks', 'app', '--release')).toContain('released');
    await eventually(async () => (await greeting()) === 'bonjour', {
      timeoutMs: 120_000,
      what: 'web-config at bonjour again',
    });
    await applied(c2);
    expect((await kustomization()).metadata.annotations?.['kedge.dev/rollback']).toBeUndefined();
  }, 300_000);
});
