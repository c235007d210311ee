import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { V1CustomResourceDefinition } from '@kubernetes/client-node';
import { afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { fetchNow, ks, statusOf } from './fixtures/kustomization/helpers.ts';
import { eventually } from './harness/eventually.ts';
import { createRepo, type TestRepo } from './harness/git-repo.ts';
import { kubeTestContext } from './harness/kube.ts';
import { startTestEngine, type TestEngine } from './harness/test-engine.ts';

const kube = kubeTestContext();

/** A custom resource no kstatus rule knows: only its healthCheckExprs can judge it. */
const databaseCrd: V1CustomResourceDefinition = {
  metadata: { name: 'databases.cel.kedge.test' },
  spec: {
    group: 'cel.kedge.test',
    scope: 'Namespaced',
    names: { plural: 'databases', singular: 'database', kind: 'Database', listKind: 'DatabaseList' },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: { openAPIV3Schema: { type: 'object', x_kubernetes_preserve_unknown_fields: true } },
      },
    ],
  },
};

const database = (ns: string) => `apiVersion: cel.kedge.test/v1
kind: Database
metadata: {name: db, namespace: ${ns}}
spec: {size: 1}
`;

const configMap = (ns: string, name: string) => `apiVersion: v1
kind: ConfigMap
metadata: {name: ${name}, namespace: ${ns}}
data: {k: v}
`;

function kustomization(name: string, spec: string, labels = '{}'): string {
  return `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: ${name}, namespace: default, labels: ${labels}}
spec:
  interval: 10m
  prune: true
  sourceRef: {kind: GitRepository, name: repo}
${spec}`;
}

/** Flux's library entry for resources with a Ready condition, plus a phase for in-progress work. */
const healthCheckExprs = `  healthCheckExprs:
    - apiVersion: cel.kedge.test/v1
      kind: Database
      inProgress: "status.?phase.orValue('') == 'Provisioning'"
      failed: "status.conditions.filter(e, e.type == 'Ready').all(e, e.status == 'False')"
      current: "status.conditions.filter(e, e.type == 'Ready').all(e, e.status == 'True')"`;

describe('CEL in Kustomizations', () => {
  let t: TestEngine | undefined;
  let repo: TestRepo;
  let ns: string;

  beforeAll(() => kube.applyCrd(databaseCrd));
  beforeEach(() => {
    ns = kube.namespace();
  });
  afterEach(async () => {
    await t?.stop();
    t = undefined;
    rmSync(dirname(repo.dir), { recursive: true, force: true });
  });

  const start = async (files: Record<string, string>): Promise<TestEngine> => {
    repo = createRepo({ files });
    t = await startTestEngine({ kubeconfig: inject('kubeconfig') });
    await t.apply(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: repo, namespace: default}
spec: {interval: 10m, url: "${repo.url}", ref: {branch: main}}
`);
    return t;
  };

  /** Writes the Database's status through its status subresource, as its controller would. */
  const setDatabaseStatus = async (status: object): Promise<void> => {
    const target = { group: 'cel.kedge.test', version: 'v1', namespace: ns, plural: 'databases', name: 'db' };
    const live = (await eventually(() => kube.custom.getNamespacedCustomObject(target), {
      what: 'Database db to exist',
    })) as Record<string, unknown>;
    await kube.custom.replaceNamespacedCustomObjectStatus({ ...target, body: { ...live, status } });
  };

  const condition = async (e: TestEngine, name: string, type: string) =>
    statusOf(await e.get(ks(name))).conditions?.find((c) => c.type === type);

  it('judges a custom resource by healthCheckExprs: waiting, then current, then failed with nothing pruned', async () => {
    const e = await start({ 'app/db.yaml': database(ns), 'app/cm.yaml': configMap(ns, 'settings') });
    await e.apply(kustomization('db', `  path: ./app\n  wait: true\n  timeout: 5m\n${healthCheckExprs}`));
    await eventually(async () => (await condition(e, 'db', 'Healthy'))?.status === 'Unknown', {
      what: 'the health check to run',
    });

    // No status yet: every expression fails to evaluate (Unknown) and the check waits.
    expect((await condition(e, 'db', 'Ready'))?.status).not.toBe('True');
    await setDatabaseStatus({
      phase: 'Running',
      conditions: [{ type: 'Ready', status: 'True', reason: 'Available' }],
    });
    const ready = await e.waitForReady(ks('db'), (c) => c.status === 'True');
    expect(statusOf(ready).conditions?.find((c) => c.type === 'Healthy')?.status).toBe('True');

    // The database fails; the next revision's health check judges it Failed at once (well before the timeout).
    await setDatabaseStatus({
      phase: 'Running',
      conditions: [{ type: 'Ready', status: 'False', reason: 'DiskFull' }],
    });
    const next = repo.commit({ 'app/cm.yaml': configMap(ns, 'settings').replace('{k: v}', '{k: v2}') });
    await fetchNow(e, 'repo', next);
    const failed = await e.waitForReady(ks('db'), (c) => c.status === 'False');
    const message = statusOf(failed).conditions?.find((c) => c.type === 'Ready')?.message;
    expect(statusOf(failed).conditions?.find((c) => c.type === 'Ready')?.reason).toBe('HealthCheckFailed');
    expect(message).toContain(`Database/${ns}/db status: 'Failed'`);
    expect(message).toContain(
      "failed expression is true: status.conditions.filter(e, e.type == 'Ready').all(e, e.status == 'False')",
    );
    // Nothing pruned: both objects are still there and still in the inventory.
    await kube.custom.getNamespacedCustomObject({
      group: 'cel.kedge.test',
      version: 'v1',
      namespace: ns,
      plural: 'databases',
      name: 'db',
    });
    await kube.core.readNamespacedConfigMap({ name: 'settings', namespace: ns });
    expect(
      statusOf(failed)
        .inventory?.entries.map((entry) => entry.id)
        .sort(),
    ).toEqual([`${ns}_db_cel.kedge.test_Database`, `${ns}_settings__ConfigMap`]);
  });

  it('a health expression that cannot be evaluated keeps the check waiting, then fails it with the CEL error', async () => {
    const e = await start({ 'app/db.yaml': database(ns) });
    await e.apply(
      kustomization(
        'db',
        `  path: ./app\n  wait: true\n  timeout: 3s\n  healthCheckExprs:\n    - apiVersion: cel.kedge.test/v1\n      current: "status.ready == true"`,
      ),
    );
    const failed = await e.waitForReady(
      ks('db'),
      (c) => c.status === 'False' && c.reason === 'HealthCheckFailed',
    );
    const message = statusOf(failed).conditions?.find((c) => c.type === 'Ready')?.message;
    expect(message).toContain(`timeout waiting for 1 object(s)`);
    expect(message).toContain(
      `Database/${ns}/db status: 'Unknown' (healthCheckExprs: failed to evaluate the CEL expression 'status.ready == true': Unknown variable: status at line 1, column 1)`,
    );
    await kube.custom.getNamespacedCustomObject({
      group: 'cel.kedge.test',
      version: 'v1',
      namespace: ns,
      plural: 'databases',
      name: 'db',
    });
  });

  it('readyExpr replaces the Ready check of a dependency; an evaluation error keeps the dependent waiting with the error', async () => {
    const e = await start({ 'b/cm.yaml': configMap(ns, 'b'), 'c/cm.yaml': configMap(ns, 'c') });
    // `a` never becomes Ready (its path does not exist); only its version label matters to `b`.
    await e.apply(kustomization('a', '  path: ./missing', '{app/version: v2}'));
    const readyExpr = "dep.metadata.labels['app/version'] == self.metadata.labels['app/version']";
    await e.apply(
      kustomization(
        'b',
        `  path: ./b\n  dependsOn: [{name: a, readyExpr: "${readyExpr}"}]`,
        '{app/version: v1}',
      ),
    );
    const waiting = await e.waitForReady(ks('b'), (c) => c.reason === 'DependencyNotReady');
    expect(statusOf(waiting).conditions?.find((c) => c.type === 'Ready')?.message).toContain(
      "dependency 'default/a' is not ready according to readyExpr eval",
    );
    await expect(kube.core.readNamespacedConfigMap({ name: 'b', namespace: ns })).rejects.toThrow();
    expect((await condition(e, 'a', 'Ready'))?.status).toBe('False');

    // `a` moves to v1 while still not Ready: `b` goes ahead, woken by the change of `a` (not its 30 s retry).
    await e.apply(kustomization('a', '  path: ./missing', '{app/version: v1}'));
    await eventually(() => kube.core.readNamespacedConfigMap({ name: 'b', namespace: ns }), {
      what: 'b to apply once readyExpr holds',
    });
    expect((await condition(e, 'a', 'Ready'))?.status).toBe('False');

    await e.apply(
      kustomization('c', `  path: ./c\n  dependsOn: [{name: a, readyExpr: "dep.status.missing == 'x'"}]`),
    );
    const error = await e.waitForReady(ks('c'), (c) => c.reason === 'DependencyNotReady');
    expect(statusOf(error).conditions?.find((c) => c.type === 'Ready')?.message).toContain(
      "dependency 'default/a': readyExpr: failed to evaluate the CEL expression 'dep.status.missing == 'x'': No such key: missing at line 1, column 12",
    );
    await expect(kube.core.readNamespacedConfigMap({ name: 'c', namespace: ns })).rejects.toThrow();
  });
});
