import { readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { appFiles, gitAndKustomization } from './fixtures/kustomization/app-files.ts';
import { appliedCommit, fetchNow, ks, statusOf } from './fixtures/kustomization/helpers.ts';
import { createRepo, type TestRepo } from './harness/git-repo.ts';
import { kubeTestContext } from './harness/kube.ts';
import { startTestEngine, type TestEngine } from './harness/test-engine.ts';

const kube = kubeTestContext();

describe('Kustomization builds confined to the artifact', () => {
  let t: TestEngine | undefined;
  let repo: TestRepo | undefined;
  let ns: string;

  beforeEach(() => {
    ns = kube.namespace();
  });
  afterEach(async () => {
    await t?.stop();
    if (repo) rmSync(dirname(repo.dir), { recursive: true, force: true });
    await kube.core.deleteNamespace({ name: `${ns}-extra` }).catch(() => undefined);
    t = undefined;
    repo = undefined;
  });

  it("refuses a commit whose generator file reads the engine's kubeconfig: Ready=False, nothing applied, nothing pruned", async () => {
    repo = createRepo({ files: appFiles(ns) });
    t = await startTestEngine({ kubeconfig: inject('kubeconfig') });
    await t.apply(gitAndKustomization('app', repo.url));
    await appliedCommit(t, 'app', repo.revParse());

    // The hostile commit drops the Service (a successful build would prune it) and generates a ConfigMap
    // from the engine's own kubeconfig, which holds its client key.
    const kubeconfig = inject('kubeconfig');
    const hostile = repo.commit({
      'deploy/kustomization.yaml': `${appFiles(ns, { withService: false })['deploy/kustomization.yaml']}generators: [gen.yaml]\n`,
      'deploy/gen.yaml': `apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata: {name: stolen, namespace: ${ns}}\nfiles: [${kubeconfig}]\n`,
    });
    await fetchNow(t, 'app', hostile);
    const failed = await t.waitForReady(
      ks('app'),
      (ready, o) =>
        ready.status === 'False' &&
        ready.reason === 'BuildFailed' &&
        (statusOf(o).lastAttemptedRevision ?? '').endsWith(hostile),
    );
    const message = statusOf(failed).conditions?.find((c) => c.type === 'Ready')?.message ?? '';
    expect(message).toContain(kubeconfig);
    expect(message).toMatch(/outside the artifact root/);
    const keyMaterial = readFileSync(kubeconfig, 'utf8')
      .split('\n')
      .map((l) => l.trim().replace(/^[\w-]+:\s*/, ''))
      .filter((l) => l.length > 40);
    expect(keyMaterial.length).toBeGreaterThan(0);
    for (const line of keyMaterial) expect(message).not.toContain(line);

    const configMaps = await kube.core.listNamespacedConfigMap({ namespace: ns });
    expect(configMaps.items.filter((c) => c.metadata?.name?.startsWith('stolen'))).toEqual([]);
    await kube.core.readNamespacedService({ name: 'web', namespace: ns });
    expect(statusOf(failed).inventory?.entries).toHaveLength(7);
    expect(statusOf(failed).lastAppliedRevision).not.toContain(hostile);
  });

  it('builds a path unaffected by a broken or escaping kustomization elsewhere in the same artifact', async () => {
    repo = createRepo({
      files: {
        ...appFiles(ns),
        'other/kustomization.yaml': 'resources:\n  - ../../../../../../etc/hostname\n',
        'broken/kustomization.yaml': 'resources: [unclosed\n',
      },
    });
    t = await startTestEngine({ kubeconfig: inject('kubeconfig') });
    await t.apply(gitAndKustomization('app', repo.url));
    const ready = await appliedCommit(t, 'app', repo.revParse());
    expect(statusOf(ready).inventory?.entries).toHaveLength(7);
    expect((await kube.core.readNamespacedConfigMap({ name: 'web-config', namespace: ns })).data).toEqual({
      greeting: 'hello',
    });
  });
});
