import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureStartMs, startsBudgetMs } from './harness/budget.ts';
import { eventually } from './harness/eventually.ts';
import { KEDGE_CLI, startKedgeUp } from './harness/kedge-cli.ts';
import { startOciRegistry, type OciRegistry } from './harness/oci-registry.ts';
import { runTracked, type TrackedRun } from './harness/tracked-process.ts';

/*
 * `kedge push artifact` / `kedge pull artifact` as a CI pipeline runs them, against a real registry with basic
 * auth over TLS, and the source commands (`get sources oci`, `reconcile`, `suspend`, `resume`, `delete`) on an
 * OCIRepository with a running engine.
 */

const cliStartMs = await measureStartMs([...KEDGE_CLI, '--version']);
/** Budget of `calls` kedge commands (each one CLI start plus registry or engine work costing less than another). */
const callsBudgetMs = (calls: number, waitsMs = 0): number => startsBudgetMs(2 * calls, cliStartMs, waitsMs);

let work: string;
let registry: OciRegistry;
const basicAuth = { username: 'ci-bot', password: 'pushing-p4ss' };
beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'kedge-oci-cli-'));
  registry = await startOciRegistry({ basicAuth, tls: true });
}, 600_000);
afterAll(async () => {
  await registry?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** The CLI from the sources, trusting the registry's CA as a CI runner with it installed would. */
function kedge(...args: string[]): Promise<TrackedRun> {
  return runTracked(process.execPath, [...KEDGE_CLI, ...args], {
    env: { ...process.env, NO_COLOR: '1', NODE_EXTRA_CA_CERTS: registry.caFile, DOCKER_CONFIG: join(work, 'no-docker') },
    timeoutMs: callsBudgetMs(1),
  });
}

function checkout(files: Record<string, string>): string {
  const root = mkdtempSync(join(work, 'checkout-'));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}

describe('kedge push|pull artifact', () => {
  it('pushes with credentials and pulls back the files with their origin, printing digests as flux does', async () => {
    const dir = checkout({ 'deploy/app.yaml': 'kind: ConfigMap\n', 'deploy/logo.png': 'binary' });
    const url = `${registry.url('ci/app')}:1.0.0`;
    const creds = `${basicAuth.username}:${basicAuth.password}`;
    const pushed = await kedge(
      'push', 'artifact', url, '--path', dir, '--source', 'https://git.example.com/app.git',
      '--revision', '1.0.0@sha1:2222222222222222222222222222222222222222', '--creds', creds,
      '--annotations', 'team=platform',
    );
    expect(pushed.stderr).toBe('');
    expect(pushed.code).toBe(0);
    const digest = /✔ artifact successfully pushed to (\S+)@(sha256:[0-9a-f]{64})/.exec(pushed.stdout);
    expect(pushed.stdout).toContain(`► pushing artifact to ${registry.host}/ci/app:1.0.0`);
    expect(digest?.[1]).toBe(`${registry.host}/ci/app`);
    expect(await registry.tags('ci/app')).toEqual(['1.0.0']);

    const out = join(work, 'pulled');
    const pulled = await kedge('pull', 'artifact', url, '--output', out, '--creds', creds);
    expect(pulled.code).toBe(0);
    expect(pulled.stdout.split('\n')).toEqual([
      `► pulling artifact from ${registry.host}/ci/app:1.0.0`,
      '✔ source https://git.example.com/app.git',
      '✔ revision 1.0.0@sha1:2222222222222222222222222222222222222222',
      `✔ digest ${registry.host}/ci/app@${digest?.[2]}`,
      `✔ artifact content extracted to ${out}`,
      '',
    ]);
    expect(readFileSync(join(out, 'deploy/app.yaml'), 'utf8')).toBe('kind: ConfigMap\n');
    // Flux's default exclusions leave out images, as `flux push artifact` does.
    expect(() => readFileSync(join(out, 'deploy/logo.png'))).toThrow();

    const manifest = JSON.parse(
      (await registry.request('GET', `/v2/ci/app/manifests/${digest?.[2]}`, {
        headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
      })).body.toString(),
    ) as { annotations: Record<string, string> };
    expect(manifest.annotations).toMatchObject({ team: 'platform', 'org.opencontainers.image.source': 'https://git.example.com/app.git' });
  }, callsBudgetMs(2));

  it('fails with the registry answer and without echoing the password, on wrong credentials and a missing tag', async () => {
    const wrong = 'definitely-wrong-password';
    const refused = await kedge('push', 'artifact', `${registry.url('ci/other')}:v1`, '--path', checkout({ 'a.yaml': 'a: 1\n' }), '--creds', `${basicAuth.username}:${wrong}`);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/✗ pushing artifact failed: .*HTTP 401.*refused the credentials/);
    expect(refused.stdout + refused.stderr).not.toContain(wrong);

    const missing = await kedge('pull', 'artifact', `${registry.url('ci/app')}:9.9.9`, '--output', join(work, 'none'), '--creds', `${basicAuth.username}:${basicAuth.password}`);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/✗ pulling artifact failed: .*HTTP 404 MANIFEST_UNKNOWN/);

    const invalid = await kedge('push', 'artifact', 'https://registry/app:v1', '--path', work);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain("✗ invalid URL: URL must be in format 'oci://<domain>/<org>/<repo>'");
  }, callsBudgetMs(3));
});

describe('kedge source commands on an OCIRepository', () => {
  it('gets, reconciles, suspends, resumes and deletes it through a running engine', async () => {
    const creds = `${basicAuth.username}:${basicAuth.password}`;
    const dir = checkout({ 'apps/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cli, namespace: default}\n' });
    const url = `${registry.url('ci/engine')}:stable`;
    expect((await kedge('push', 'artifact', url, '--path', dir, '--creds', creds)).code).toBe(0);
    const dataDir = join(work, 'data');
    const manifest = join(work, 'oci.yaml');
    writeFileSync(
      manifest,
      `apiVersion: v1
kind: Secret
metadata: {name: pull, namespace: default}
type: kubernetes.io/dockerconfigjson
stringData:
  .dockerconfigjson: '${registry.dockerConfigJson()}'
---
apiVersion: v1
kind: Secret
metadata: {name: ca, namespace: default}
stringData:
  ca.crt: |
${registry.caPem!.trim().replace(/^/gm, '    ')}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: app, namespace: default}
spec:
  interval: 10m
  url: ${registry.url('ci/engine')}
  ref: {tag: stable}
  secretRef: {name: pull}
  certSecretRef: {name: ca}
`,
    );
    const withData = (...args: string[]) => kedge('--data-dir', dataDir, ...args);
    expect((await withData('apply', '-f', manifest)).code).toBe(0);
    const engine = startKedgeUp(dataDir);
    try {
      await eventually(() => engine.output().includes('kedge is running'), { what: 'engine start', timeoutMs: callsBudgetMs(1) });
      const first = await eventually(
        async () => {
          const got = await withData('get', 'sources', 'oci');
          return /app\s+stable@sha256:[0-9a-f]{64}\s+false\s+True/.test(got.stdout) ? got : undefined;
        },
        { what: 'kedge get sources oci to show the revision', timeoutMs: callsBudgetMs(3) },
      );
      expect(first.stdout).toContain("stored artifact for digest 'stable@sha256:");

      const next = checkout({ 'apps/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cli2, namespace: default}\n' });
      const pushed = await kedge('push', 'artifact', url, '--path', next, '--creds', creds);
      const digest = /@(sha256:[0-9a-f]{64})/.exec(pushed.stdout)?.[1];
      const reconcile = await withData('reconcile', 'source', 'oci', 'app');
      expect(reconcile.code).toBe(0);
      expect(reconcile.stdout).toContain(`✔ fetched revision stable@${digest}`);

      expect((await withData('suspend', 'source', 'oci', 'app')).code).toBe(0);
      expect((await withData('get', 'sources', 'oci')).stdout).toMatch(/app\s+stable@sha256:\w+\s+true/);
      const resumed = await withData('resume', 'source', 'oci', 'app');
      expect(resumed.code).toBe(0);
      expect(resumed.stdout).toContain('reconciliation completed');

      expect((await withData('delete', 'source', 'oci', 'app', '--silent')).code).toBe(0);
      await eventually(async () => (await withData('get', 'sources', 'oci')).stderr.includes('no OCIRepository objects found') || undefined, {
        what: 'the OCIRepository to be gone',
        timeoutMs: callsBudgetMs(2),
      });
    } finally {
      const exited = new Promise((done) => (engine.exitCode !== null ? done(engine.exitCode) : engine.once('exit', done)));
      engine.kill('SIGTERM');
      await exited;
    }
  }, callsBudgetMs(14));
});
