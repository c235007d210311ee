import { describe, expect, it } from 'vitest';
import { CrdPartOfLabel, customResourceDefinitions } from '../src/api/crds.ts';
import { KubeRest } from '../src/apply/kube-rest.ts';
import { ensureCustomResourceDefinitions } from '../src/store/kubernetes/ensure-crds.ts';
import { kubeTestContext } from './harness/kube.ts';
import { execFileTracked, runTracked } from './harness/tracked-process.ts';

const kube = kubeTestContext();

/** kubectl from PATH against the run's control plane; one kubectl start is well under a second here. */
const kubectl = (args: string[], input?: string) =>
  input === undefined
    ? runTracked('kubectl', ['--kubeconfig', kube.kubeconfigPath, ...args], { timeoutMs: 30_000 })
    : runTracked('sh', ['-c', `printf '%s' "$MANIFEST" | kubectl --kubeconfig "$KC" ${args.join(' ')}`], {
        env: { ...process.env, MANIFEST: input, KC: kube.kubeconfigPath },
        timeoutMs: 30_000,
      });

describe('Kedge CRDs on a real API server', () => {
  it('are accepted as structural schemas, Established, and a second ensure uses them as they are', async () => {
    const rest = new KubeRest(kube.kubeConfig);
    try {
      const first = await ensureCustomResourceDefinitions(rest);
      const names = customResourceDefinitions().map((c) => c.metadata.name);
      expect([...first.created, ...first.existing].sort()).toEqual([...names].sort());
      const second = await ensureCustomResourceDefinitions(rest);
      expect(second).toEqual({ created: [], existing: names });
      for (const name of names) {
        const crd = await kube.apiextensions.readCustomResourceDefinition({ name });
        expect(crd.metadata?.labels?.[CrdPartOfLabel]).toBe('kedge');
        expect(crd.status?.conditions?.find((c) => c.type === 'NonStructuralSchema')).toBeUndefined();
      }
    } finally {
      rest.close();
    }
  });

  it('answers kubectl by Flux short names with Flux-like columns, and refuses an invalid resource naming the field', async () => {
    const rest = new KubeRest(kube.kubeConfig);
    await ensureCustomResourceDefinitions(rest).finally(() => rest.close());
    const ns = kube.namespace();
    const good = `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: podinfo, namespace: ${ns}}
spec: {url: https://github.com/stefanprodan/podinfo, interval: 1m, ref: {branch: master}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: podinfo, namespace: ${ns}}
spec: {interval: 5m, prune: true, path: ./kustomize, sourceRef: {kind: GitRepository, name: podinfo}}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Provider
metadata: {name: hook, namespace: ${ns}}
spec: {type: generic, address: https://example.com/hook}
`;
    const applied = await kubectl(['apply', '-f', '-'], good);
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    const repos = await kubectl(['get', 'gitrepo', '-n', ns]);
    expect(repos.stdout.split('\n')[0]?.split(/\s+/)).toEqual(['NAME', 'URL', 'AGE', 'READY', 'STATUS']);
    expect(repos.stdout).toContain('https://github.com/stefanprodan/podinfo');
    const ks = await kubectl(['get', 'ks', '-n', ns, '-o', 'name']);
    expect(ks.stdout.trim()).toBe('kustomization.kustomize.toolkit.fluxcd.io/podinfo');
    const provider = await kubectl([
      'get',
      'providers.v1beta3.notification.toolkit.fluxcd.io',
      'hook',
      '-n',
      ns,
      '-o',
      'jsonpath={.apiVersion}',
    ]);
    expect(provider.stdout).toBe('notification.toolkit.fluxcd.io/v1beta3');

    const bad = `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: broken, namespace: ${ns}}
spec: {interval: 5 minutes, prune: true, sourceRef: {kind: GitRepository, name: podinfo}}
`;
    const refused = await kubectl(['apply', '-f', '-'], bad);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('spec.interval');
    const unknown = await kubectl(
      ['apply', '-f', '-'],
      bad.replace('5 minutes', '5m').replace('prune: true', 'prune: true, prunne: false'),
    );
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('prunne');
    await expect(
      execFileTracked('kubectl', ['--kubeconfig', kube.kubeconfigPath, 'get', 'ks', 'broken', '-n', ns]),
    ).rejects.toThrow(/not found/);
  });
});
