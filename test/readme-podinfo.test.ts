import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { V1Deployment } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { statusOf, ks } from './fixtures/kustomization/helpers.ts';
import { podinfoKustomizeFiles } from './fixtures/podinfo/kustomize-files.ts';
import { eventually } from './harness/eventually.ts';
import { createRepo, type TestRepo } from './harness/git-repo.ts';
import { kubeTestContext } from './harness/kube.ts';
import { startTestEngine, type TestEngine } from './harness/test-engine.ts';

const kube = kubeTestContext({ nodes: 1 });

/** The podinfo manifests of the README's Kubernetes section, as written there. */
function readmePodinfoExample(): string {
  const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
  const block = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)]
    .map((m) => m[1]!)
    .find((b) => b.includes('stefanprodan/podinfo'));
  if (block === undefined) throw new Error('README.md has no yaml block deploying podinfo');
  return block;
}

describe("the README's podinfo example on `kedge dev cluster up`", () => {
  let t: TestEngine | undefined;
  let repo: TestRepo | undefined;
  afterEach(async () => {
    await t?.stop();
    if (repo) rmSync(dirname(repo.dir), { recursive: true, force: true });
  });

  it('becomes Ready with wait: true: Deployment Available at the HPA minimum, Service and HPA applied', async () => {
    const ns = kube.namespace();
    repo = createRepo({ files: podinfoKustomizeFiles() });
    // The README's manifests with the repository served here instead of GitHub, and the test's namespace.
    const example = readmePodinfoExample();
    expect(example).toContain('wait: true');
    const manifests = example
      .replace('url: https://github.com/stefanprodan/podinfo', `url: "${repo.url}"`)
      .replace(/ref: \{semver: "6\.x"\}/, 'ref: {branch: main}')
      .replace('targetNamespace: default', `targetNamespace: ${ns}`);
    expect(manifests).toContain(repo.url);
    expect(manifests).toContain('ref: {branch: main}');

    t = await startTestEngine({ kubeconfig: kube.kubeconfigPath });
    await t.apply(manifests);
    const ready = await t.waitForReady(ks('podinfo'), (c) => c.status === 'True', 150_000);
    expect(statusOf(ready).conditions?.find((c) => c.type === 'Healthy')).toMatchObject({ status: 'True' });
    expect(
      statusOf(ready)
        .inventory?.entries.map((e) => e.id)
        .sort(),
    ).toEqual([
      `${ns}_podinfo__Service`,
      `${ns}_podinfo_apps_Deployment`,
      `${ns}_podinfo_autoscaling_HorizontalPodAutoscaler`,
    ]);
    // The HPA raises the Deployment to its minimum of 2 (no metrics needed for that), and both pods run.
    await eventually(
      async () => {
        const podinfo = await kube.objects.read<V1Deployment>({
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'podinfo', namespace: ns },
        });
        return podinfo.spec?.replicas === 2 && podinfo.status?.availableReplicas === 2;
      },
      { what: 'podinfo scaled to 2 available replicas by its HPA', timeoutMs: 90_000 },
    );
  });
});
