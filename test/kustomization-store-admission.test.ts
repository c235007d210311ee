import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ks, statusOf } from './fixtures/kustomization/helpers.ts';
import { createRepo, type TestRepo } from './harness/git-repo.ts';
import { startTestEngine, type TestEngine } from './harness/test-engine.ts';

describe('store admission of objects a Kustomization applies from Git', () => {
  let t: TestEngine | undefined;
  let repo: TestRepo | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
    if (repo) rmSync(dirname(repo.dir), { recursive: true, force: true });
  });

  it('refuses a Kustomization with a zero interval: the parent goes Ready=False naming object and field, nothing is stored', async () => {
    repo = createRepo({
      files: {
        'clusters/main/sync.yaml': `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: hot, namespace: default}
spec: {interval: 0s, retryInterval: 0s, path: ./apps, prune: true, sourceRef: {kind: GitRepository, name: repo}}
`,
        'apps/cm.yaml':
          'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: hot-settings, namespace: default}\ndata: {k: v}\n',
      },
    });
    t = await startTestEngine();
    await t.apply(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: repo, namespace: default}
spec: {interval: 10m, url: "${repo.url}", ref: {branch: main}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: parent, namespace: default}
spec: {interval: 10m, path: ./clusters/main, prune: true, sourceRef: {kind: GitRepository, name: repo}}
`);
    const failed = await t.waitForReady(
      ks('parent'),
      (ready) => ready.status === 'False' && ready.reason === 'ReconciliationFailed',
    );
    const message = statusOf(failed).conditions?.find((c) => c.type === 'Ready')?.message ?? '';
    expect(message).toContain('Kustomization/default/hot: spec.interval: must be greater than zero');
    expect(message).toContain('spec.retryInterval: must be greater than zero');
    expect(await t.get(ks('hot'))).toBeUndefined();
    expect(
      await t.engine.store.get({ kind: 'ConfigMap', namespace: 'default', name: 'hot-settings' }),
    ).toBeUndefined();
  });
});
