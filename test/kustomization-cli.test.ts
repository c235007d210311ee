import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { appliedCommit, ks } from './fixtures/kustomization/helpers.ts';
import { createRepo, type TestRepo } from './harness/git-repo.ts';
import { kubeTestContext } from './harness/kube.ts';
import { startTestEngine, type TestEngine } from './harness/test-engine.ts';
import { spawnTracked as spawn } from './harness/tracked-process.ts';
import { KEDGE_CLI } from './harness/kedge-cli.ts';

const kube = kubeTestContext();

function kedge(dataDir: string, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [...KEDGE_CLI, '--data-dir', dataDir, ...args], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((done) => child.once('close', (code) => done({ code, stdout, stderr })));
}

describe('kedge tree / build / diff / reconcile --with-source for Kustomizations', () => {
  let t: TestEngine;
  let repo: TestRepo;
  let ns: string;

  const files = (greeting: string) => ({
    'deploy/config.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\n  namespace: ${'${ns}'}\ndata: {greeting: "${greeting}"}\n`,
    'deploy/extra.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n  namespace: ${'${ns}'}\ndata: {k: v}\n`,
  });

  beforeEach(async () => {
    ns = kube.namespace();
    repo = createRepo({ files: files('hello') });
    t = await startTestEngine({ kubeconfig: inject('kubeconfig'), receiverAddress: { host: '127.0.0.1', port: 0 } });
    await t.apply(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: app, namespace: default}
spec: {interval: 10m, url: "${repo.url}", ref: {branch: main}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: app, namespace: default}
spec:
  interval: 10m
  path: ./deploy
  prune: true
  sourceRef: {kind: GitRepository, name: app}
  postBuild: {substitute: {ns: ${ns}}}
`);
    await appliedCommit(t, 'app', repo.revParse());
  });
  afterEach(async () => {
    await t.stop();
    rmSync(dirname(repo.dir), { recursive: true, force: true });
  });

  it('prints the inventory as a tree', async () => {
    const run = await kedge(t.dataDir, 'tree', 'kustomization', 'app');
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe(`Kustomization/default/app\n├── ConfigMap/${ns}/extra\n└── ConfigMap/${ns}/web-config\n`);
  });

  it('builds a local directory with the spec substitutions, applying nothing', async () => {
    writeFileSync(join(repo.dir, 'deploy/config.yaml'), files('bonjour')['deploy/config.yaml']);
    const run = await kedge(t.dataDir, 'build', 'kustomization', 'app', '--path', join(repo.dir, 'deploy'));
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`namespace: ${ns}`);
    expect(run.stdout).toContain('greeting: bonjour');
    expect((await kube.core.readNamespacedConfigMap({ name: 'web-config', namespace: ns })).data).toEqual({ greeting: 'hello' });
  });

  it('diffs a local directory against the cluster: exit 0 in sync, 1 with the changed field and the pruned object', async () => {
    const args = ['diff', 'kustomization', 'app', '--path', join(repo.dir, 'deploy'), '--kubeconfig', inject('kubeconfig')];
    const same = await kedge(t.dataDir, ...args);
    expect(same).toMatchObject({ code: 0, stdout: '' });

    writeFileSync(join(repo.dir, 'deploy/config.yaml'), files('bonjour')['deploy/config.yaml']);
    rmSync(join(repo.dir, 'deploy/extra.yaml'));
    const changed = await kedge(t.dataDir, ...args);
    expect(changed.code).toBe(1);
    expect(changed.stdout).toContain(`► ConfigMap/${ns}/web-config drifted`);
    expect(changed.stdout).toContain('-  greeting: hello');
    expect(changed.stdout).toContain('+  greeting: bonjour');
    expect(changed.stdout).toContain(`► ConfigMap/${ns}/extra deleted`);
    expect((await kube.core.readNamespacedConfigMap({ name: 'web-config', namespace: ns })).data).toEqual({ greeting: 'hello' });
  });

  it('reconciles the source first with --with-source', async () => {
    const next = repo.commit(files('hola'));
    const run = await kedge(t.dataDir, 'reconcile', 'kustomization', 'app', '--with-source');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('source git app reconciliation completed');
    expect(run.stdout).toContain(`fetched revision main@sha1:${next}`);
    expect((await kube.core.readNamespacedConfigMap({ name: 'web-config', namespace: ns })).data).toEqual({ greeting: 'hola' });
    await appliedCommit(t, ks('app').name, next);
  });
});
