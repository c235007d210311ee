import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { RollbackAnnotation } from '../src/api/history.ts';
import type { Condition } from '../src/api/meta.ts';
import { releaseRollback, rollback } from '../src/rollback/rollback.ts';
import { revertInGit } from '../src/rollback/git-revert.ts';
import { appliedCommit, eventMessages, fetchNow, ks, statusOf } from './fixtures/kustomization/helpers.ts';
import { eventually } from './harness/eventually.ts';
import { createRepo, type TestRepo } from './harness/git-repo.ts';
import { startGitDaemon } from './harness/git-servers.ts';
import { kubeTestContext } from './harness/kube.ts';
import { startTestEngine, type TestEngine } from './harness/test-engine.ts';

const kube = kubeTestContext();

/** One ConfigMap whose greeting each commit changes, and optionally a second one. */
function files(ns: string, greeting: string, extra = false): Record<string, string | null> {
  return {
    'deploy/kustomization.yaml': `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - config.yaml
${extra ? '  - extra.yaml\n' : ''}`,
    'deploy/config.yaml': `apiVersion: v1
kind: ConfigMap
metadata: {name: web-config, namespace: ${ns}}
data: {greeting: "${greeting}"}
`,
    'deploy/extra.yaml': extra
      ? `apiVersion: v1
kind: ConfigMap
metadata: {name: extra, namespace: ${ns}}
data: {a: b}
`
      : null,
  };
}

function manifests(url: string): string {
  return `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: app, namespace: default}
spec: {interval: 10m, url: "${url}", ref: {branch: main}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: app, namespace: default}
spec: {interval: 10m, path: ./deploy, prune: true, sourceRef: {kind: GitRepository, name: app}}
`;
}

const conditionOf = (o: { status?: unknown } | undefined, type: string): Condition | undefined =>
  (o?.status as { conditions?: Condition[] } | undefined)?.conditions?.find((c) => c.type === type);

describe('history and rollback of a Kustomization', () => {
  let t: TestEngine;
  let repo: TestRepo;
  let ns: string;
  const greeting = async (): Promise<string | undefined> =>
    (await kube.core.readNamespacedConfigMap({ name: 'web-config', namespace: ns })).data?.greeting;

  beforeEach(async () => {
    ns = kube.namespace();
    repo = createRepo({ files: files(ns, 'v1') });
    t = await startTestEngine({ kubeconfig: inject('kubeconfig'), historyLimit: 3 });
  });
  afterEach(async () => {
    await t.stop();
    rmSync(join(repo.dir, '..'), { recursive: true, force: true });
  });

  /** Commits `files`, has the source fetch it and waits until the Kustomization applied it. */
  const land = async (content: Record<string, string | null>): Promise<string> => {
    const commit = repo.commit(content);
    await fetchNow(t, 'app', commit);
    await appliedCommit(t, 'app', commit);
    return commit;
  };

  it('records history with retention, rolls back and holds across restart, drift and new commits, releases', async () => {
    await t.apply(manifests(repo.url));
    const c1 = repo.revParse();
    await appliedCommit(t, 'app', c1);
    const c2 = await land(files(ns, 'v2', true));
    const c3 = await land(files(ns, 'v3', true));

    // History: newest first, what each reconcile changed; Flux's status.history has the same reconciles.
    const history = await t.engine.store.listHistory(ks('app'));
    expect(history.map((e) => e.revision)).toEqual([c3, c2, c1].map((c) => `main@sha1:${c}`));
    expect(history[1]).toMatchObject({
      result: 'Succeeded',
      reason: 'ReconciliationSucceeded',
      changes: {
        created: [`ConfigMap/${ns}/extra`],
        configured: [`ConfigMap/${ns}/web-config`],
        deleted: [],
      },
    });
    expect(history[1]?.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(history[2]?.changes.created).toEqual([`ConfigMap/${ns}/web-config`]);
    const flux = statusOf(await t.get(ks('app'))).history ?? [];
    expect(flux.map((s) => s.metadata?.revision)).toEqual([c3, c2, c1].map((c) => `main@sha1:${c}`));
    expect(flux[0]).toMatchObject({
      lastReconciledStatus: 'ReconciliationSucceeded',
      totalReconciliations: 1,
    });
    expect(flux[0]?.lastReconciledDuration).toMatch(/^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/);

    // Retention: a fourth revision leaves the newest three.
    const c4 = await land(files(ns, 'v4', false));
    expect((await t.engine.store.listHistory(ks('app'))).map((e) => e.revision)).toEqual(
      [c4, c3, c2].map((c) => `main@sha1:${c}`),
    );

    // Two revisions back: c2 (its artifact outlived the source's own retention of 2 because history refers to it).
    const { hold } = await rollback(t.engine.store, ks('app'), { steps: 2 });
    expect(hold).toMatchObject({ revision: `main@sha1:${c2}`, sourceRevision: `main@sha1:${c4}` });
    await eventually(async () => (await greeting()) === 'v2', { what: 'web-config back at v2' });
    await kube.core.readNamespacedConfigMap({ name: 'extra', namespace: ns });
    const held = await t.waitForReady(
      ks('app'),
      (r, o) => r.status === 'True' && conditionOf(o, 'RolledBack') !== undefined,
    );
    expect(statusOf(held).lastAppliedRevision).toBe(`main@sha1:${c2}`);
    expect(conditionOf(held, 'RolledBack')).toMatchObject({
      status: 'True',
      // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- vitest's asymmetric matcher
      message: expect.stringContaining(`held at main@sha1:${c2}, source is at main@sha1:${c4}`),
    });
    expect((await eventMessages(t, 'app')).join('\n')).toContain(
      `RolledBack: rolled back to main@sha1:${c2}`,
    );

    // Drift correction keeps the rolled-back state.
    await kube.core.patchNamespacedConfigMap({
      name: 'web-config',
      namespace: ns,
      body: [{ op: 'replace', path: '/data/greeting', value: 'drifted' }],
    });
    await eventually(async () => (await greeting()) === 'v2', { what: 'drift undone to v2' });

    // The hold survives a restart, and a new commit does not end it.
    await t.restart();
    const c5 = repo.commit(files(ns, 'v5', true));
    await fetchNow(t, 'app', c5);
    await eventually(
      async () =>
        conditionOf(await t.get(ks('app')), 'RolledBack')?.message.includes(`source is at main@sha1:${c5}`),
      { what: 'RolledBack names the new source revision' },
    );
    expect(await greeting()).toBe('v2');
    expect(statusOf(await t.get(ks('app'))).lastAppliedRevision).toBe(`main@sha1:${c2}`);

    // Release: the source's revision is applied, the condition goes, an event says so.
    expect(await releaseRollback(t.engine.store, ks('app'))).toBe(true);
    await appliedCommit(t, 'app', c5);
    expect(await greeting()).toBe('v5');
    expect(conditionOf(await t.get(ks('app')), 'RolledBack')).toBeUndefined();
    expect((await eventMessages(t, 'app')).join('\n')).toContain(
      `RollbackReleased: rollback to main@sha1:${c2} released`,
    );
    const recorded = await t.engine.store.listHistory(ks('app'));
    expect(recorded[0]).toMatchObject({ revision: `main@sha1:${c5}` });
    expect(recorded[1]).toMatchObject({ revision: `main@sha1:${c2}`, rolledBack: true });

    // Auto-release: held at c4 (by a commit prefix) until a newer commit lands.
    await rollback(t.engine.store, ks('app'), { to: c4.slice(0, 10), autoRelease: true });
    await eventually(async () => (await greeting()) === 'v4', { what: 'web-config at v4' });
    const c6 = repo.commit(files(ns, 'v6', true));
    await fetchNow(t, 'app', c6);
    await appliedCommit(t, 'app', c6);
    expect(await greeting()).toBe('v6');
    expect((await t.get(ks('app')))?.metadata.annotations?.[RollbackAnnotation]).toBeUndefined();
    expect((await eventMessages(t, 'app')).join('\n')).toContain(`source moved to main@sha1:${c6}`);
  }, 180_000);

  it('refuses a rollback to a revision history does not have, naming the recorded ones', async () => {
    await t.apply(manifests(repo.url));
    await appliedCommit(t, 'app', repo.revParse());
    await expect(rollback(t.engine.store, ks('app'), { steps: 1 })).rejects.toThrow(
      /has 0 earlier revisions in its history, cannot go back 1 \(recorded revisions: main@sha1:/,
    );
    await expect(rollback(t.engine.store, ks('app'), { to: 'deadbeefcafe' })).rejects.toThrow(
      /no successful history entry for revision 'deadbeefcafe'/,
    );
  }, 60_000);
});

describe('rollback --git', () => {
  let t: TestEngine;
  let work: TestRepo;
  let root: string;
  let ns: string;
  const git = (dir: string, ...args: string[]) =>
    execFileSync('git', args, {
      cwd: dir,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', LC_ALL: 'C' },
    }).trim();

  beforeEach(async () => {
    ns = kube.namespace();
    root = mkdtempSync(join(tmpdir(), 'kedge-revert-'));
    work = createRepo({ files: files(ns, 'v1'), root, name: 'work' });
    git(root, 'clone', '-q', '--bare', work.dir, 'origin.git');
    git(work.dir, 'remote', 'add', 'origin', join(root, 'origin.git'));
    t = await startTestEngine({ kubeconfig: inject('kubeconfig') });
  });
  afterEach(async () => {
    await t.stop();
    rmSync(root, { recursive: true, force: true });
  });

  const land = async (content: Record<string, string | null>): Promise<string> => {
    const commit = work.commit(content);
    git(work.dir, 'push', '-q', 'origin', 'main');
    await fetchNow(t, 'app', commit);
    await appliedCommit(t, 'app', commit);
    return commit;
  };

  it('pushes one commit restoring the earlier tree to the bare repository, and the normal flow applies it', async () => {
    const bare = join(root, 'origin.git');
    await t.apply(manifests(`file://${bare}`));
    const c1 = work.revParse();
    await appliedCommit(t, 'app', c1);
    const c2 = await land(files(ns, 'v2', true));
    const c3 = await land(files(ns, 'v3', true));

    const result = await revertInGit(t.engine.store, ks('app'), { to: c1 });
    expect(result).toMatchObject({ branch: 'main', target: c1, reverted: 2 });
    expect(git(bare, 'rev-parse', 'main')).toBe(result.commit);
    expect(git(bare, 'rev-parse', 'main^')).toBe(c3);
    expect(git(bare, 'rev-parse', 'main^{tree}')).toBe(git(bare, 'rev-parse', `${c1}^{tree}`));
    const message = git(bare, 'log', '-1', '--format=%B', 'main');
    expect(message).toContain(`Revert 'main' to ${c1.slice(0, 12)}`);
    expect(message).toContain(c2);
    expect(message).toContain(c3);

    // No hold: the source fetches the revert commit and the Kustomization applies it, pruning what c2 added.
    await fetchNow(t, 'app', result.commit);
    await appliedCommit(t, 'app', result.commit);
    expect(
      (await kube.core.readNamespacedConfigMap({ name: 'web-config', namespace: ns })).data?.greeting,
    ).toBe('v1');
    await expect(kube.core.readNamespacedConfigMap({ name: 'extra', namespace: ns })).rejects.toThrow();
    expect((await t.get(ks('app')))?.metadata.annotations?.[RollbackAnnotation]).toBeUndefined();
  }, 120_000);

  it('fails clearly when the remote refuses the push', async () => {
    const daemon = await startGitDaemon(root);
    try {
      await t.apply(manifests(daemon.url('origin.git')));
      await appliedCommit(t, 'app', work.revParse());
      await land(files(ns, 'v2'));
      await expect(revertInGit(t.engine.store, ks('app'), { steps: 1 })).rejects.toThrow(
        /push of the revert commit was refused .*; the GitRepository has no secretRef: push access needs credentials in one/,
      );
    } finally {
      await daemon.stop();
    }
  }, 120_000);
});
