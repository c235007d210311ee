import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createRepo, type TestRepo } from './harness/git-repo.ts';
import { FREE_PORT_FLAGS } from './harness/kedge-cli.ts';
import { execFileTracked, runTracked } from './harness/tracked-process.ts';

const ROOT = resolve(import.meta.dirname, '..');
const KEDGE_BIN = join(ROOT, 'bin', 'kedge.js');

/**
 * A module resolve hook that fails the process if it loads a TypeScript compiler or a TypeScript file: the
 * shipped CLI must run on compiled JavaScript alone. (Node runs ESM hooks for every `import`.)
 */
const NO_TYPESCRIPT_HOOK = `
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  if (/\\/node_modules\\/(tsx|typescript|esbuild)\\//.test(result.url) || /\\.[cm]?ts$/.test(result.url)) {
    throw new Error('the shipped CLI loaded TypeScript: ' + result.url);
  }
  return result;
}
`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The shipped artefact as a user runs it: `npm ci` built dist/ and this test rebuilt it with `npm run build`
 * (so it is current), then `node bin/kedge.js …`, with the no-TypeScript hook preloaded.
 */
// Whole commands and an engine run per test, as separate processes: generous budgets for a loaded 2-core machine.
describe('the built kedge CLI (bin/kedge.js → dist/)', { timeout: 240_000 }, () => {
  let work: string;
  let register: string;
  let repo: TestRepo;
  let manifest: string;

  async function kedge(...args: string[]): Promise<Run> {
    const run = await runTracked(process.execPath, ['--import', register, KEDGE_BIN, ...args], {
      cwd: work,
      env: { ...process.env, NO_COLOR: '1' },
      timeoutMs: 150_000,
    });
    return { code: run.code ?? -1, stdout: run.stdout, stderr: run.stderr };
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'kedge-cli-built-'));
    await execFileTracked('npm', ['run', 'build', '--silent'], { cwd: ROOT, timeoutMs: 150_000 });
    writeFileSync(join(work, 'no-typescript-hook.mjs'), NO_TYPESCRIPT_HOOK);
    register = join(work, 'register-hook.mjs');
    writeFileSync(
      register,
      `import { register } from 'node:module';\nregister('./no-typescript-hook.mjs', import.meta.url);\n`,
    );
    repo = createRepo({
      files: {
        'deploy/settings.yaml':
          'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: built}\n',
      },
      root: work,
    });
    manifest = join(work, 'app.yaml');
    writeFileSync(
      manifest,
      [
        `apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: app, namespace: default}\nspec:\n  interval: 10m\n  url: ${repo.url}\n  ref: {branch: main}\n`,
        `apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: app, namespace: default}\nspec:\n  interval: 10m\n  path: ./deploy\n  prune: true\n  sourceRef: {kind: GitRepository, name: app}\n`,
      ].join('---\n'),
    );
  }, 180_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('prints the package version, and stops with what to run when the bundle is missing', async () => {
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string })
      .version;
    const run = await kedge('--version');
    expect(run).toMatchObject({ code: 0, stdout: `${version}\n` });

    // A copy of bin/ without dist/ next to it: the message names the command that builds it.
    const lonely = join(work, 'lonely');
    mkdirSync(join(lonely, 'bin'), { recursive: true });
    writeFileSync(join(lonely, 'bin', 'kedge.js'), readFileSync(KEDGE_BIN));
    const missing = await runTracked(process.execPath, [join(lonely, 'bin', 'kedge.js'), '--version']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(
      `kedge: the compiled CLI ${join(lonely, 'dist', 'kedge.js')} is missing: run 'npm ci' (or 'npm run build')`,
    );
  });

  it('applies, lists, and runs `up --once` to Ready on a local repository', async () => {
    const dataDir = join(work, 'data');
    const applied = await kedge('--data-dir', dataDir, 'apply', '-f', manifest);
    expect(applied).toMatchObject({
      code: 0,
      stdout: 'gitrepository/app created\nkustomization/app created\n',
    });
    const before = await kedge('--data-dir', dataDir, 'get', 'kustomizations');
    expect(before.code).toBe(0);
    expect(before.stdout).toMatch(
      /^NAME\s+REVISION\s+ROLLED-BACK\s+SUSPENDED\s+READY\s+MESSAGE\napp\s+false\s+false\s+Unknown\s+waiting to be reconciled\n$/,
    );

    const up = await kedge('--data-dir', dataDir, 'up', '--once', ...FREE_PORT_FLAGS);
    expect(up.stderr).not.toContain('loaded TypeScript');
    expect(up.code).toBe(0);
    const revision = `main@sha1:${repo.revParse()}`;
    expect(up.stdout).toContain(`✔ kustomization default/app: Applied revision: ${revision}`);

    const after = await kedge('--data-dir', dataDir, 'get', 'kustomizations', '-o', 'json');
    expect(after.code).toBe(0);
    expect(JSON.parse(after.stdout)).toMatchObject({
      items: [{ status: { lastAppliedRevision: revision } }],
    });
    const stored = await kedge('--data-dir', dataDir, 'get', 'kustomizations', '-A', '-o', 'yaml');
    expect(stored.stdout).toContain(`lastAppliedRevision: ${revision}`);
  });

  // The dev cluster's supervisor is a second bundle entry (dist/supervisor-main.js), spawned detached.
  it('starts and stops a dev cluster through the bundled supervisor', { timeout: 300_000 }, async () => {
    const dir = join(work, 'cluster');
    onTestFinished(async () => {
      await kedge('dev', 'cluster', 'down', '--dir', dir);
    });
    const up = await kedge('dev', 'cluster', 'up', '--dir', dir);
    expect(up.stderr).not.toContain('loaded TypeScript');
    expect(up.code).toBe(0);
    expect(up.stdout).toContain(`export KUBECONFIG=${join(dir, 'kubeconfig')}`);
    const status = JSON.parse((await kedge('dev', 'cluster', 'status', '--dir', dir, '--json')).stdout) as {
      running: boolean;
      pids: { owner?: number };
    };
    expect(status.running).toBe(true);
    expect(readFileSync(`/proc/${status.pids.owner}/cmdline`, 'utf8').split('\0')).toContain(
      join(ROOT, 'dist', 'supervisor-main.js'),
    );
    expect((await kedge('dev', 'cluster', 'down', '--dir', dir)).stdout).toContain(
      `stopped dev cluster in ${dir}`,
    );
  });
});
