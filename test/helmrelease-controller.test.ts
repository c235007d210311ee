import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { HelmReleaseStatus } from '../src/api/helmrelease.ts';
import type { Condition, KObject, ObjectRef } from '../src/api/meta.ts';
import { locateHelm } from '../src/helm/helm-binary.ts';
import { writeChart } from './fixtures/helm/charts.ts';
import { startChartRepository, type ChartRepository } from './harness/chart-repository.ts';
import { eventually } from './harness/eventually.ts';
import { kubeTestContext } from './harness/kube.ts';
import { startTestEngine, type TestEngine } from './harness/test-engine.ts';
import { execFileTracked } from './harness/tracked-process.ts';

/*
 * HelmRelease end to end: a real chart repository on loopback, Kedge's HelmRepository and HelmChart, the real
 * helm binary against the run's real API server; what Kedge did is read back with helm itself.
 */

const kube = kubeTestContext();
/** Each reconcile runs helm a few times (about a second each here, more under load) and a chart fetch. */
const RELEASE_BUDGET_MS = 120_000;

const hrRef = (name: string): ObjectRef => ({ kind: 'HelmRelease', namespace: 'default', name });
const status = (o: KObject | undefined) => (o?.status ?? {}) as HelmReleaseStatus;
const condition = (o: KObject | undefined, type: string): Condition | undefined =>
  status(o).conditions?.find((c) => c.type === type);

let repo: ChartRepository;
let helmHome: string;
let t: TestEngine | undefined;

beforeAll(async () => {
  helmHome = mkdtempSync(join(tmpdir(), 'kedge-hr-test-'));
  repo = await startChartRepository();
  await repo.publishDir(writeChart({ version: '1.0.0' }));
}, 240_000);
afterAll(async () => {
  await repo?.stop();
  rmSync(helmHome, { recursive: true, force: true });
});
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

async function helm(args: string[]): Promise<string> {
  const { file } = await locateHelm();
  const { stdout } = await execFileTracked(file, [...args, '--kubeconfig', kube.kubeconfigPath], {
    timeoutMs: 60_000,
    env: { ...process.env, HELM_DRIVER: 'secret', HOME: helmHome },
  });
  return stdout;
}

async function history(release: string, ns: string): Promise<[number, string, string][]> {
  const entries = JSON.parse(await helm(['history', release, '-n', ns, '-o', 'json'])) as {
    revision: number;
    status: string;
    chart: string;
  }[];
  return entries.map((e) => [e.revision, e.status, e.chart]);
}

function repositoryYaml(interval = '10m'): string {
  return `apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: charts, namespace: default}
spec: {interval: ${interval}, url: "${repo.url}"}
`;
}

function helmRelease(name: string, ns: string, extra = '', version = '1.x'): string {
  return `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: ${name}, namespace: default}
spec:
  interval: 10m
  timeout: 60s
  targetNamespace: ${ns}
  releaseName: ${name}
  chart:
    spec:
      chart: greeter
      version: "${version}"
      sourceRef: {kind: HelmRepository, name: charts}
${extra}${extra && !extra.endsWith('\n') ? '\n' : ''}`;
}

async function start(): Promise<TestEngine> {
  t = await startTestEngine({ kubeconfig: kube.kubeconfigPath });
  return t;
}

const readyTrue = (ready: Condition) => ready.status === 'True';

describe('HelmRelease', () => {
  it('installs, upgrades on a new chart version in range and on a values change from a ConfigMap', async () => {
    const ns = kube.namespace();
    const engine = await start();
    await engine.apply(`${repositoryYaml('2s')}---
apiVersion: v1
kind: ConfigMap
metadata: {name: web-values, namespace: default}
data:
  values.yaml: "greeting: from-configmap"
---
${helmRelease('web', ns, '  valuesFrom: [{kind: ConfigMap, name: web-values}]\n  values: {extra: 1}')}`);
    const installed = await engine.waitForReady(hrRef('web'), readyTrue, RELEASE_BUDGET_MS);
    expect(condition(installed, 'Ready')?.message).toBe(
      `Helm install succeeded for release ${ns}/web.v1 with chart greeter@1.0.0`,
    );
    expect(condition(installed, 'Released')?.reason).toBe('InstallSucceeded');
    expect(status(installed).helmChart).toBe('default/default-web');
    expect(status(installed).inventory?.entries).toEqual([{ id: `${ns}_web-settings__ConfigMap`, v: 'v1' }]);
    const cm = await kube.core.readNamespacedConfigMap({ name: 'web-settings', namespace: ns });
    expect(cm.data?.greeting).toBe('from-configmap');
    expect(cm.metadata?.labels).toMatchObject({ 'helm.toolkit.fluxcd.io/name': 'web' });

    // A new chart version in the range: the HelmRepository's next fetch sees it, the HelmChart and the release follow.
    await repo.publishDir(writeChart({ version: '1.1.0' }));
    await engine.waitForReady(
      hrRef('web'),
      (ready, o) => ready.status === 'True' && status(o).history?.[0]?.chartVersion === '1.1.0',
      RELEASE_BUDGET_MS,
    );

    await engine.apply(`apiVersion: v1
kind: ConfigMap
metadata: {name: web-values, namespace: default}
data:
  values.yaml: "greeting: changed"
`);
    await engine.engine.store.update({
      ...(await engine.get(hrRef('web')))!,
      metadata: {
        ...(await engine.get(hrRef('web')))!.metadata,
        annotations: { 'reconcile.fluxcd.io/requestedAt': 'values-changed' },
      },
    });
    await eventually(
      async () =>
        (await kube.core.readNamespacedConfigMap({ name: 'web-settings', namespace: ns })).data?.greeting ===
        'changed',
      { timeoutMs: RELEASE_BUDGET_MS, what: 'the new greeting from the ConfigMap released' },
    );
    expect(await history('web', ns)).toEqual([
      [1, 'superseded', 'greeter-1.0.0'],
      [2, 'superseded', 'greeter-1.1.0'],
      [3, 'deployed', 'greeter-1.1.0'],
    ]);
    expect(JSON.parse(await helm(['get', 'values', 'web', '-n', ns, '-o', 'json']))).toEqual({
      greeting: 'changed',
      extra: 1,
    });
  });

  it('remediates a failing upgrade with a rollback that helm history shows, then stalls out of retries', async () => {
    const ns = kube.namespace();
    const engine = await start();
    await engine.apply(`${repositoryYaml()}---
${helmRelease('app', ns, '  upgrade: {remediation: {retries: 1}}\n  values: {greeting: good}', '1.0.0')}`);
    await engine.waitForReady(hrRef('app'), readyTrue, RELEASE_BUDGET_MS);

    await engine.apply(
      helmRelease(
        'app',
        ns,
        '  upgrade: {remediation: {retries: 1}}\n  values: {greeting: bad, badName: true}',
        '1.0.0',
      ),
    );
    const stalled = await eventually(
      async () => {
        const o = await engine.get(hrRef('app'));
        return condition(o, 'Stalled')?.status === 'True' && o;
      },
      { timeoutMs: 2 * RELEASE_BUDGET_MS, what: 'the release stalled after its retries' },
    );
    expect(condition(stalled, 'Ready')).toMatchObject({ status: 'False', reason: 'RollbackSucceeded' });
    expect(condition(stalled, 'Released')?.message).toMatch(/Helm upgrade failed for release .*Bad_Name_app/);
    expect(status(stalled).upgradeFailures).toBe(2);
    // Two failed upgrades, each rolled back to the good release.
    expect((await history('app', ns)).map(([, s]) => s)).toEqual([
      'superseded',
      'failed',
      'superseded',
      'failed',
      'deployed',
    ]);
    const cm = await kube.core.readNamespacedConfigMap({ name: 'app-settings', namespace: ns });
    expect(cm.data?.greeting).toBe('good');
  });

  it('values that break the template: Ready=False with the template error, the running release untouched', async () => {
    const ns = kube.namespace();
    const engine = await start();
    await engine.apply(`${repositoryYaml()}---
${helmRelease('tpl', ns, '  values: {greeting: fine}', '1.0.0')}`);
    await engine.waitForReady(hrRef('tpl'), readyTrue, RELEASE_BUDGET_MS);
    await engine.apply(helmRelease('tpl', ns, '  values: {greeting: fine, brokenTemplate: true}', '1.0.0'));
    const failed = await engine.waitForReady(hrRef('tpl'), (r) => r.status === 'False', RELEASE_BUDGET_MS);
    expect(condition(failed, 'Ready')?.reason).toBe('UpgradeFailed');
    expect(condition(failed, 'Ready')?.message).toContain(
      'brokenTemplate is set: the greeting cannot be rendered',
    );
    expect(await history('tpl', ns)).toEqual([[1, 'deployed', 'greeter-1.0.0']]);
    const events = await engine.engine.store.listEvents({
      kind: 'HelmRelease',
      namespace: 'default',
      name: 'tpl',
    });
    expect(events.some((e) => e.reason === 'UpgradeFailed' && e.type === 'Warning')).toBe(true);
  });

  it('runs chart tests: success in Ready; a failing test counts as a failure of the install', async () => {
    const ns = kube.namespace();
    const engine = await start();
    await engine.apply(`${repositoryYaml()}---
${helmRelease('tested', ns, '  test: {enable: true}', '1.0.0')}---
${helmRelease('failing', ns, '  test: {enable: true}\n  values: {testFails: true}', '1.0.0')}`);
    const passed = await engine.waitForReady(hrRef('tested'), readyTrue, RELEASE_BUDGET_MS);
    expect(condition(passed, 'TestSuccess')?.status).toBe('True');
    expect(condition(passed, 'Ready')?.message).toBe(
      `Helm test succeeded for release ${ns}/tested.v1 with chart greeter@1.0.0: 1 test hook completed successfully`,
    );
    const failing = await engine.waitForReady(
      hrRef('failing'),
      (r, o) => r.status === 'False' && condition(o, 'Stalled')?.status === 'True',
      RELEASE_BUDGET_MS,
    );
    expect(condition(failing, 'Ready')?.reason).toBe('TestFailed');
    expect(condition(failing, 'Ready')?.message).toMatch(/Helm test failed for release .*Failing_Test/);
    expect(status(failing).installFailures).toBe(1);
  });

  it('waits for dependsOn, adopts a hand-installed release, and uninstalls on delete', async () => {
    const ns = kube.namespace();
    const { file: chart } = { file: `${repo.url}/greeter-1.0.0.tgz` };
    await helm(['install', 'adopted', chart, '-n', ns, '--set', 'greeting=by-hand']);
    const engine = await start();
    await engine.apply(`${repositoryYaml()}---
${helmRelease('base', ns, '  valuesFrom: [{kind: ConfigMap, name: base-values}]', '1.0.0')}---
${helmRelease('adopted', ns, '  dependsOn: [{name: base}]\n  values: {greeting: by-kedge}', '1.0.0')}`);
    await engine.waitForReady(
      hrRef('base'),
      (r) => r.status === 'False' && /base-values/.test(r.message),
      RELEASE_BUDGET_MS,
    );
    const waiting = await engine.waitForReady(
      hrRef('adopted'),
      (r) => r.reason === 'DependencyNotReady',
      RELEASE_BUDGET_MS,
    );
    expect(condition(waiting, 'Ready')?.message).toContain("dependency 'default/base' is not ready");

    await engine.apply(`apiVersion: v1
kind: ConfigMap
metadata: {name: base-values, namespace: default}
data: {values.yaml: "greeting: base"}
`);
    await engine.engine.store.update({
      ...(await engine.get(hrRef('base')))!,
      metadata: {
        ...(await engine.get(hrRef('base')))!.metadata,
        annotations: { 'reconcile.fluxcd.io/requestedAt': 'now' },
      },
    });
    const adopted = await engine.waitForReady(hrRef('adopted'), readyTrue, RELEASE_BUDGET_MS);
    expect(condition(adopted, 'Released')?.reason).toBe('UpgradeSucceeded');
    expect(await history('adopted', ns)).toEqual([
      [1, 'superseded', 'greeter-1.0.0'],
      [2, 'deployed', 'greeter-1.0.0'],
    ]);
    expect(
      (await kube.core.readNamespacedConfigMap({ name: 'adopted-settings', namespace: ns })).data?.greeting,
    ).toBe('by-kedge');

    await engine.engine.store.delete(hrRef('adopted'));
    await eventually(async () => !(await engine.get(hrRef('adopted'))), {
      timeoutMs: RELEASE_BUDGET_MS,
      what: 'the HelmRelease gone',
    });
    const listed = JSON.parse(await helm(['list', '-n', ns, '-o', 'json'])) as { name: string }[];
    expect(listed.map((r) => r.name)).toEqual(['base']);
    await expect(
      kube.core.readNamespacedConfigMap({ name: 'adopted-settings', namespace: ns }),
    ).rejects.toThrow();
    expect(
      await engine.get({ kind: 'HelmChart', namespace: 'default', name: 'default-adopted' }),
    ).toBeUndefined();
  });
  it('driftDetection enabled: an out-of-band edit is reported and corrected at the next reconcile', async () => {
    const ns = kube.namespace();
    const engine = await start();
    await engine.apply(`${repositoryYaml()}---
${helmRelease('drifty', ns, '  driftDetection: {mode: enabled}\n  values: {greeting: desired}', '1.0.0')}`);
    const installed = await engine.waitForReady(hrRef('drifty'), readyTrue, RELEASE_BUDGET_MS);
    await kube.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'drifty-settings', namespace: ns },
      data: { greeting: 'edited by hand' },
    });
    await engine.engine.store.update({
      ...installed,
      metadata: { ...installed.metadata, annotations: { 'reconcile.fluxcd.io/requestedAt': 'drift-check' } },
    });
    await eventually(
      async () =>
        (await kube.core.readNamespacedConfigMap({ name: 'drifty-settings', namespace: ns })).data
          ?.greeting === 'desired',
      { timeoutMs: RELEASE_BUDGET_MS, what: 'the edited greeting corrected' },
    );
    const events = await engine.engine.store.listEvents({
      kind: 'HelmRelease',
      namespace: 'default',
      name: 'drifty',
    });
    expect(events.find((e) => e.reason === 'DriftDetected')?.message).toContain(
      `ConfigMap/${ns}/drifty-settings changed (data.greeting)`,
    );
    // The correction kept the object Helm's: helm still upgrades it.
    expect(await history('drifty', ns)).toEqual([[1, 'deployed', 'greeter-1.0.0']]);
    const cm = await kube.core.readNamespacedConfigMap({ name: 'drifty-settings', namespace: ns });
    expect(cm.metadata?.annotations?.['meta.helm.sh/release-name']).toBe('drifty');
  });
});
