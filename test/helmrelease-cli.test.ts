import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { writeChart } from './fixtures/helm/charts.ts';
import { startChartRepository, type ChartRepository } from './harness/chart-repository.ts';
import { KEDGE_CLI } from './harness/kedge-cli.ts';
import { kubeTestContext } from './harness/kube.ts';
import { startTestEngine, type TestEngine } from './harness/test-engine.ts';
import { spawnTracked as spawn } from './harness/tracked-process.ts';

const kube = kubeTestContext();
/** helm runs a few times per reconcile (about a second each here, more under load). */
const RELEASE_BUDGET_MS = 120_000;

function kedge(
  dataDir: string,
  ...args: string[]
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [...KEDGE_CLI, '--data-dir', dataDir, ...args], {
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((done) => child.once('close', (code) => done({ code, stdout, stderr })));
}

const release = (ns: string, greeting: string, suspend = false) => `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: web, namespace: default}
spec:
  interval: 10m
  suspend: ${suspend}
  targetNamespace: ${ns}
  releaseName: web
  values: {greeting: ${greeting}}
  chart:
    spec:
      chart: greeter
      sourceRef: {kind: HelmRepository, name: charts}
`;

describe('kedge get / tree / diff / suspend / reconcile for HelmReleases', () => {
  let repo: ChartRepository;
  let t: TestEngine;

  beforeAll(async () => {
    repo = await startChartRepository();
    await repo.publishDir(writeChart({ version: '2.0.0' }));
  }, 240_000);
  afterAll(async () => {
    await t?.stop();
    await repo?.stop();
  });

  it('lists, prints the release objects, shows what an upgrade would change, and forces an upgrade', async () => {
    const ns = kube.namespace();
    t = await startTestEngine({ kubeconfig: inject('kubeconfig') });
    await t.apply(`apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: charts, namespace: default}
spec: {interval: 10m, url: "${repo.url}"}
---
${release(ns, 'hello')}`);
    const ref = { kind: 'HelmRelease', namespace: 'default', name: 'web' };
    await t.waitForReady(ref, (r) => r.status === 'True', RELEASE_BUDGET_MS);

    const get = await kedge(t.dataDir, 'get', 'hr');
    expect(get.stdout).toMatch(/web\s+2\.0\.0\s+false\s+True\s+Helm install succeeded for release/);
    const tree = await kedge(t.dataDir, 'tree', 'helmrelease', 'web');
    expect(tree.stdout).toBe(`HelmRelease/default/web\n└── ConfigMap/${ns}/web-settings\n`);

    expect((await kedge(t.dataDir, 'suspend', 'hr', 'web')).code).toBe(0);
    // Applied as suspended (a whole-object apply): the engine leaves the new values alone until resumed.
    await t.apply(release(ns, 'bonjour', true));
    const diff = await kedge(t.dataDir, 'diff', 'helmrelease', 'web', '--kubeconfig', inject('kubeconfig'));
    expect(diff.stderr).toBe('');
    expect(diff.code).toBe(1);
    expect(diff.stdout).toContain(`ConfigMap/${ns}/web-settings drifted`);
    expect(diff.stdout).toContain('-  greeting: hello');
    expect(diff.stdout).toContain('+  greeting: bonjour');
    // Nothing was changed by the diff.
    expect(
      (await kube.core.readNamespacedConfigMap({ name: 'web-settings', namespace: ns })).data?.greeting,
    ).toBe('hello');

    const resumed = await kedge(t.dataDir, 'resume', 'hr', 'web', '--timeout', '2m');
    expect(resumed.stderr).toBe('');
    expect(
      (await kube.core.readNamespacedConfigMap({ name: 'web-settings', namespace: ns })).data?.greeting,
    ).toBe('bonjour');

    const forced = await kedge(t.dataDir, 'reconcile', 'hr', 'web', '--force', '--timeout', '2m');
    expect(forced.stdout).toContain('helmrelease web reconciliation completed');
    const hr = await t.get(ref);
    expect((hr?.status as { history?: { version: number }[] }).history?.[0]?.version).toBe(3);
  });
});
