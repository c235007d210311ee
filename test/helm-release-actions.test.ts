import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeTarget, kubeConfigFromFile } from '../src/apply/kube-client.ts';
import type { HelmReleaseSpec } from '../src/api/helmrelease.ts';
import { locateHelm } from '../src/helm/helm-binary.ts';
import { writePostRendererPlugin } from '../src/helm/post-renderer.ts';
import {
  installRelease,
  rollbackRelease,
  testRelease,
  uninstallRelease,
  upgradeRelease,
  type ReleaseTarget,
} from '../src/helm/release-actions.ts';
import { listReleases } from '../src/helm/release-record.ts';
import { locateRenderer } from '../src/kustomize/renderer-binary.ts';
import { packageChart, writeChart } from './fixtures/helm/charts.ts';
import { kubeTestContext } from './harness/kube.ts';
import { execFileTracked } from './harness/tracked-process.ts';

const kube = kubeTestContext();
const spec: HelmReleaseSpec = { interval: '10m', chartRef: { kind: 'HelmChart', name: 'x' }, timeout: '60s' };

describe('helm release actions (real helm, real API server)', () => {
  let scratch: string;
  let charts: { v1: string; v2: string };
  let target: KubeTarget;

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'kedge-helm-actions-'));
    charts = {
      v1: await packageChart(writeChart({ version: '1.0.0' }), scratch),
      v2: await packageChart(writeChart({ version: '1.1.0' }), scratch),
    };
    target = new KubeTarget(kubeConfigFromFile(kube.kubeconfigPath));
  }, 240_000);
  afterAll(() => {
    target?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  function release(name: string): ReleaseTarget {
    const home = mkdtempSync(join(scratch, 'home-'));
    return {
      name,
      namespace: kube.namespace(),
      workDir: home,
      connection: { kubeconfig: kube.kubeconfigPath, home, plugins: join(home, 'plugins') },
    };
  }

  async function helm(args: string[]): Promise<string> {
    const { file } = await locateHelm();
    const { stdout } = await execFileTracked(file, [...args, '--kubeconfig', kube.kubeconfigPath], {
      timeoutMs: 60_000,
      env: { ...process.env, HELM_DRIVER: 'secret', HOME: scratch },
    });
    return stdout;
  }

  it('installs with a post-renderer, upgrades to a new chart, and helm itself lists what was done', async () => {
    const ns = kube.namespace();
    const r = release('web');
    await writePostRendererPlugin(r.connection.plugins!, await locateRenderer(), {
      owner: { name: 'web', namespace: 'flux-system' },
      commonMetadata: { labels: { team: 'blue' } },
      postRenderers: [
        {
          kustomize: {
            patches: [
              {
                target: { kind: 'ConfigMap', name: 'web-settings' },
                patch: '- op: add\n  path: /data/patched\n  value: "yes"',
              },
            ],
          },
        },
      ],
    });
    await installRelease(spec, r, { chart: charts.v1, values: { greeting: 'hi' }, postRender: true });
    const cm = await kube.core.readNamespacedConfigMap({ name: 'web-settings', namespace: ns });
    expect(cm.data).toMatchObject({ greeting: 'hi', chartVersion: '1.0.0', patched: 'yes' });
    expect(cm.metadata?.labels).toMatchObject({
      team: 'blue',
      'helm.toolkit.fluxcd.io/name': 'web',
      'helm.toolkit.fluxcd.io/namespace': 'flux-system',
    });

    await upgradeRelease(spec, r, { chart: charts.v2, values: { greeting: 'hey' }, postRender: false });
    const records = await listReleases(target.rest, ns, 'web');
    expect(records.map((x) => [x.version, x.status, x.chartVersion])).toEqual([
      [1, 'superseded', '1.0.0'],
      [2, 'deployed', '1.1.0'],
    ]);
    expect(records[1]!.config).toEqual({ greeting: 'hey' });
    const listed = JSON.parse(await helm(['list', '-n', ns, '-o', 'json'])) as {
      name: string;
      chart: string;
    }[];
    expect(listed).toEqual([expect.objectContaining({ name: 'web', chart: 'greeter-1.1.0' })]);
    expect(JSON.parse(await helm(['get', 'values', 'web', '-n', ns, '-o', 'json']))).toEqual({
      greeting: 'hey',
    });
  });

  it('a failed upgrade is stored as failed; a rollback restores the previous release', async () => {
    const ns = kube.namespace();
    const r = release('app');
    await installRelease(spec, r, { chart: charts.v1, values: {}, postRender: false });
    await expect(
      upgradeRelease(spec, r, { chart: charts.v2, values: { badName: true }, postRender: false }),
    ).rejects.toThrow(/Bad_Name_app/);
    expect((await listReleases(target.rest, ns, 'app')).at(-1)?.status).toBe('failed');
    await rollbackRelease(spec, r);
    const history = JSON.parse(await helm(['history', 'app', '-n', ns, '-o', 'json'])) as {
      revision: number;
      status: string;
    }[];
    expect(history.map((h) => [h.revision, h.status])).toEqual([
      [1, 'superseded'],
      [2, 'failed'],
      [3, 'deployed'],
    ]);
    const cm = await kube.core.readNamespacedConfigMap({ name: 'app-settings', namespace: ns });
    expect(cm.data?.chartVersion).toBe('1.0.0');
  });

  it('runs chart tests, reports a failing one, and uninstalls', async () => {
    const ns = kube.namespace();
    const r = release('tested');
    await installRelease(spec, r, { chart: charts.v1, values: {}, postRender: false });
    await testRelease(spec, r);
    const passed = (await listReleases(target.rest, ns, 'tested')).at(-1)!;
    expect(passed.testHooks['tested-test']?.phase).toBe('Succeeded');

    await upgradeRelease(spec, r, { chart: charts.v1, values: { testFails: true }, postRender: false });
    await expect(testRelease(spec, r)).rejects.toThrow(/Failing_Test/);

    await uninstallRelease(spec, r);
    expect(await listReleases(target.rest, ns, 'tested')).toEqual([]);
    await expect(
      kube.core.readNamespacedConfigMap({ name: 'tested-settings', namespace: ns }),
    ).rejects.toThrow();
  });
});
