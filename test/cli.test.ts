import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './harness/eventually.ts';
import { createRepo, type TestRepo } from './harness/git-repo.ts';
import { measureStartMs, startsBudgetMs } from './harness/budget.ts';
import { runTracked, type TrackedRun } from './harness/tracked-process.ts';
import { KEDGE_CLI, startKedgeUp } from './harness/kedge-cli.ts';


/**
 * One start of the CLI, measured when this file starts, on the machine as loaded as it is then. Every budget
 * in this file counts CLI starts (see test/harness/budget.ts).
 */
const cliStartMs = await measureStartMs([...KEDGE_CLI, '--version']);

/**
 * Budget of `calls` kedge commands: each is one CLI start plus, for those that make an engine fetch from a
 * local repository (reconcile, up --once), work that costs less than another start; plus `waitsMs` that a
 * command waits on purpose (`--timeout 3s`).
 */
const callsBudgetMs = (calls: number, waitsMs = 0): number => startsBudgetMs(2 * calls, cliStartMs, waitsMs);

/** Runs the real `kedge` binary (asynchronously: a running engine child must keep being drained meanwhile). */
function kedge(dataDir: string, ...args: string[]): Promise<TrackedRun> {
  const timeoutFlag = args.includes('--timeout') ? /^(\d+)s$/.exec(args[args.indexOf('--timeout') + 1] ?? '') : null;
  return runTracked(process.execPath, [...KEDGE_CLI, '--data-dir', dataDir, ...args], {
    env: { ...process.env, NO_COLOR: '1' },
    timeoutMs: callsBudgetMs(1, timeoutFlag ? Number(timeoutFlag[1]) * 1000 : 0),
  });
}

const startUp = (dataDir: string, ...args: string[]) => startKedgeUp(dataDir, args);

const exited = (child: ChildProcess) =>
  new Promise<number | null>((done) => (child.exitCode !== null ? done(child.exitCode) : child.once('exit', (code) => done(code))));

describe('kedge CLI', () => {
  let work: string;
  let dataDir: string;
  let repo: TestRepo;
  let manifest: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'kedge-cli-'));
    dataDir = join(work, 'data');
    repo = createRepo({ files: { 'deploy/cm.yaml': 'kind: ConfigMap\n' }, root: work });
    manifest = join(work, 'repo.yaml');
    writeFileSync(
      manifest,
      `apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: app, namespace: default}\nspec:\n  interval: 10m\n  url: ${repo.url}\n  ref: {branch: main}\n`,
    );
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('rejects invalid manifests naming file, document and field, storing nothing', async () => {
    const bad = join(work, 'bad.yaml');
    writeFileSync(bad, `---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: x}\nspec: {interval: 1m, url: 'file:///x', reff: {}}\n`);
    const run = await kedge(dataDir, 'apply', '-f', bad, manifest);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`${bad}: document 1 (GitRepository default/x): spec: unknown field 'reff'`);
    expect((await kedge(dataDir, 'get', 'sources', 'git')).stderr).toContain('no GitRepository objects found');
  }, callsBudgetMs(2));

  it('apply refuses zero durations, naming every field at once, storing nothing', async () => {
    const zero = join(work, 'zero.yaml');
    writeFileSync(
      zero,
      `apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: hot}\nspec: {interval: 0s, retryInterval: 0ms, timeout: 0m0s, prune: true, sourceRef: {kind: GitRepository, name: app}}\n`,
    );
    const run = await kedge(dataDir, 'apply', '-f', zero);
    expect(run.code).toBe(1);
    for (const field of ['spec.interval', 'spec.retryInterval', 'spec.timeout']) {
      expect(run.stderr).toContain(`${zero}: document 1 (Kustomization default/hot): ${field}: must be greater than zero`);
    }
    expect((await kedge(dataDir, 'get', 'kustomizations')).stderr).toContain('no Kustomization objects found');
  }, 180_000);

  it('apply refuses a CEL expression that does not compile, quoting it with the position, storing nothing', async () => {
    const cel = join(work, 'cel.yaml');
    writeFileSync(
      cel,
      `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: cel}
spec:
  interval: 10m
  prune: true
  sourceRef: {kind: GitRepository, name: app}
  healthCheckExprs:
    - apiVersion: bitnami.com/v1alpha1
      kind: SealedSecret
      current: status.conditions.filter(e, e.type == 'Synced').all(e, e.status == 'True'
`,
    );
    const run = await kedge(dataDir, 'apply', '-f', cel);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      `${cel}: document 1 (Kustomization default/cel): spec.healthCheckExprs.0.current: invalid CEL expression 'status.conditions.filter(e, e.type == 'Synced').all(e, e.status == 'True'': Expected RPAREN, got EOF at line 1, column 74`,
    );
    expect((await kedge(dataDir, 'get', 'kustomizations')).stderr).toContain('no Kustomization objects found');
  }, callsBudgetMs(2));

  it('applies like kubectl and prints objects as a table, JSON and a List', async () => {
    expect((await kedge(dataDir, 'apply', '-f', manifest)).stdout.trim()).toBe('gitrepository/app created');
    expect((await kedge(dataDir, 'apply', '-f', manifest)).stdout.trim()).toBe('gitrepository/app unchanged');
    const table = (await kedge(dataDir, 'get', 'sources', 'git')).stdout.split('\n');
    expect(table[0]).toMatch(/^NAME\s+REVISION\s+SUSPENDED\s+READY\s+MESSAGE$/);
    expect(table[1]).toMatch(/^app\s+false\s+Unknown\s+waiting to be reconciled$/);
    const one = JSON.parse((await kedge(dataDir, 'get', 'source', 'git', 'app', '-o', 'json')).stdout) as { kind: string };
    expect(one.kind).toBe('GitRepository');
    const list = JSON.parse((await kedge(dataDir, 'get', 'sources', 'git', '-A', '-o', 'json')).stdout) as { kind: string; items: unknown[] };
    expect(list).toMatchObject({ kind: 'List' });
    expect(list.items).toHaveLength(1);
  }, callsBudgetMs(6));

  it('says plainly that reconcile needs a running engine', async () => {
    const run = await kedge(dataDir, 'reconcile', 'source', 'git', 'app');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('no kedge engine is running on data dir');
  }, callsBudgetMs(1));

  it('up --once exits 0 once everything is Ready and prints the final conditions', async () => {
    const run = await kedge(dataDir, 'up', '--once', '--storage-addr', ':0', '--metrics-addr', ':0', '--receiver-addr', ':0', '--web-addr', ':0', '-f', manifest);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`✔ source git default/app: stored artifact for revision 'main@sha1:${repo.revParse()}'`);
  }, callsBudgetMs(1));

  it('up --once exits 1 when an object cannot become Ready before the timeout, saying why', async () => {
    const other = join(work, 'other-data');
    const broken = join(work, 'broken.yaml');
    writeFileSync(broken, `apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: broken}\nspec:\n  interval: 1m\n  url: ${repo.url}\n  ref: {branch: no-such-branch}\n`);
    const run = await kedge(other, 'up', '--once', '--timeout', '3s', '--storage-addr', ':0', '--metrics-addr', ':0', '--receiver-addr', ':0', '--web-addr', ':0', '-f', broken);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/✗ source git default\/broken: .*no-such-branch/);
  }, callsBudgetMs(1, 3_000));

  it.each([
    ['0-byte', ''],
    ['garbage', 'this is not a database\n'.repeat(300)],
  ])('a %s kedge.db is an error naming the file: up deploys no example, no command starts a new store', async (_name, content) => {
    const data = join(work, `bad-store-${content.length}`);
    mkdirSync(data);
    const file = join(data, 'kedge.db');
    writeFileSync(file, content);
    const up = await kedge(data, 'up', '--once', '--timeout', '10s', '--storage-addr', ':0', '--metrics-addr', ':0', '--receiver-addr', ':0', '--web-addr', ':0');
    expect(up.code).toBe(1);
    expect(up.stderr).toContain(`store ${file} `);
    expect(up.stderr).toMatch(/Restore it from a backup, or move it away/);
    expect(up.stdout).not.toContain('bundled example');
    expect(existsSync(join(data, 'example'))).toBe(false);
    for (const args of [['get', 'sources', 'git'], ['apply', '-f', manifest]]) {
      const run = await kedge(data, ...args);
      expect(run.code, `kedge ${args.join(' ')}`).toBe(1);
      expect(run.stderr).toContain(`store ${file} `);
    }
    expect(readFileSync(file, 'utf8')).toBe(content);
  }, 180_000);

  it('talks to a running engine: reconcile, suspend, resume, events; a second engine is refused; SIGTERM stops cleanly', async () => {
    const engine = startUp(dataDir);
    try {
      await eventually(() => engine.output().includes('kedge is running'), { what: 'engine start', timeoutMs: callsBudgetMs(1) });
      const second = await kedge(dataDir, 'up', '--storage-addr', ':0', '--metrics-addr', ':0', '--receiver-addr', ':0', '--web-addr', ':0');
      expect(second.code).toBe(1);
      expect(second.stderr).toContain(`pid ${engine.pid}`);

      const next = repo.commit({ 'deploy/cm.yaml': 'kind: ConfigMap\ndata: {}\n' }, { message: 'second' });
      const reconcile = await kedge(dataDir, 'reconcile', 'source', 'git', 'app');
      expect(reconcile.code).toBe(0);
      expect(reconcile.stdout).toContain(`✔ fetched revision main@sha1:${next}`);

      expect((await kedge(dataDir, 'suspend', 'source', 'git', 'app')).code).toBe(0);
      expect((await kedge(dataDir, 'get', 'sources', 'git')).stdout).toMatch(/app\s+main@sha1:\w+\s+true/);
      const refused = await kedge(dataDir, 'reconcile', 'source', 'git', 'app');
      expect(refused.stderr).toContain('is suspended');
      const resumed = await kedge(dataDir, 'resume', 'source', 'git', 'app');
      expect(resumed.code).toBe(0);
      expect(resumed.stdout).toContain('reconciliation completed');

      const events = await kedge(dataDir, 'events', '--for', 'GitRepository/app');
      expect(events.stdout).toMatch(/Normal\s+NewArtifact\s+GitRepository\/app\s+stored artifact for commit 'second'/);
    } finally {
      engine.kill('SIGTERM');
      expect(await exited(engine)).toBe(0);
    }
    expect(engine.output()).toContain('engine stopped');
    expect((await kedge(dataDir, 'reconcile', 'source', 'git', 'app')).stderr).toContain('no kedge engine is running');
    // The engine and 10 commands, and the engine's shutdown (within one more command's budget).
  }, callsBudgetMs(12));
});
