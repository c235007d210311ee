import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Condition } from '../src/api/meta.ts';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import { measureStartMs, startsBudgetMs } from './harness/budget.ts';
import { createRepo, type TestRepo } from './harness/git-repo.ts';
import { startGitDaemon, type GitServer } from './harness/git-servers.ts';
import { FREE_PORT_FLAGS, KEDGE_CLI } from './harness/kedge-cli.ts';
import { kubeTestContext } from './harness/kube.ts';
import {
  newAgeKey,
  newPgpKey,
  sopsEncrypt,
  SopsBuildBudgetMs,
  sopsTools,
  tamper,
  type AgeKey,
  type PgpKey,
  type SopsTools,
} from './harness/sops.ts';
import { runTracked, type TrackedRun } from './harness/tracked-process.ts';

const kube = kubeTestContext();

/** The secret values committed encrypted: none may reach the data dir, the engine's output, events or status. */
const SECRETS = { age: 'age-db-password-51a7', pgp: 'pgp-api-token-c08e', env: 'env-smtp-password-9f3b' };
/** What one `kedge up --once` may wait for besides starting: a git fetch, a render with sops, an apply. */
const ONCE_TIMEOUT = '3m';
const ONCE_TIMEOUT_MS = 180_000;

const secret = (name: string, value: string) =>
  `apiVersion: v1\nkind: Secret\nmetadata:\n  name: ${name}\ntype: Opaque\nstringData:\n  value: ${value}\n`;

describe('Kustomization spec.decryption applying to a cluster', () => {
  let tools: SopsTools;
  let age: AgeKey;
  let otherAge: AgeKey;
  let pgp: PgpKey;
  let work: string;
  let dataDir: string;
  let repo: TestRepo;
  let daemon: GitServer;
  let startMs: number;
  const outputs: string[] = [];

  beforeAll(async () => {
    tools = await sopsTools();
    [age, otherAge, pgp] = await Promise.all([newAgeKey(tools), newAgeKey(tools), newPgpKey()]);
    startMs = await measureStartMs([...KEDGE_CLI, '--version']);
    work = mkdtempSync(join(tmpdir(), 'kedge-sops-ks-'));
    dataDir = join(work, 'data');
  }, SopsBuildBudgetMs);
  afterAll(async () => {
    await daemon?.stop();
    await pgp?.dispose();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** `kedge up --once` on the cluster with debug logs; its output is kept for the leak check. */
  async function upOnce(...args: string[]): Promise<TrackedRun> {
    const run = await runTracked(
      process.execPath,
      [
        ...KEDGE_CLI,
        '--data-dir',
        dataDir,
        '--log-level',
        'debug',
        'up',
        '--once',
        '--timeout',
        ONCE_TIMEOUT,
        ...FREE_PORT_FLAGS,
        '--kubeconfig',
        inject('kubeconfig'),
        ...args,
      ],
      { env: { ...process.env, NO_COLOR: '1' }, timeoutMs: startsBudgetMs(1, startMs, ONCE_TIMEOUT_MS) },
    );
    outputs.push(run.stdout, run.stderr);
    return run;
  }

  /** A `kedge` CLI command on the data dir. */
  function kedge(...args: string[]): Promise<TrackedRun> {
    return runTracked(process.execPath, [...KEDGE_CLI, '--data-dir', dataDir, ...args], {
      env: { ...process.env, NO_COLOR: '1' },
      timeoutMs: startsBudgetMs(1, startMs, 60_000),
    });
  }

  async function kustomizationStatus(): Promise<{ ready?: Condition; raw: string; events: string }> {
    const store = await openSqliteStore(dataDir);
    try {
      const ks = await store.get({ kind: 'Kustomization', namespace: 'default', name: 'app' });
      const events = await store.listEvents({ kind: 'Kustomization', namespace: 'default', name: 'app' });
      const conditions = (ks?.status as { conditions?: Condition[] } | undefined)?.conditions ?? [];
      return {
        ready: conditions.find((c) => c.type === 'Ready'),
        raw: JSON.stringify(ks),
        events: JSON.stringify(events),
      };
    } finally {
      await store.close();
    }
  }

  const secretValue = async (name: string, key = 'value') => {
    const found = await kube.core.readNamespacedSecret({ name, namespace: kube.namespace() });
    return Buffer.from(found.data?.[key] ?? '', 'base64').toString('utf8');
  };

  it(
    'applies age- and PGP-encrypted Secrets and an encrypted secretGenerator source decrypted; a tampered file or a wrong key is DecryptionFailed, pruning nothing; no value leaks',
    async () => {
      const ns = kube.namespace();
      const k8s = { encryptedRegex: '^(data|stringData)$' };
      const files = {
        'deploy/kustomization.yaml': `resources: [age-secret.yaml, pgp-secret.yaml, settings.yaml]
generatorOptions: {disableNameSuffixHash: true}
secretGenerator:
  - name: smtp
    envs: [smtp.env]
`,
        'deploy/age-secret.yaml': await sopsEncrypt(tools, secret('db', SECRETS.age), 'yaml', { age }, k8s),
        'deploy/pgp-secret.yaml': await sopsEncrypt(tools, secret('api', SECRETS.pgp), 'yaml', { pgp }, k8s),
        'deploy/smtp.env': await sopsEncrypt(
          tools,
          `SMTP_PASSWORD=${SECRETS.env}\nSMTP_HOST=mail.example.com\n`,
          'dotenv',
          { age },
        ),
        'deploy/settings.yaml':
          'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: plain}\n',
      };
      repo = createRepo({ files, root: work });
      daemon = await startGitDaemon(work);
      const keysSecret = (keys: Record<string, string>) =>
        `apiVersion: v1\nkind: Secret\nmetadata: {name: sops-keys, namespace: default}\nstringData: ${JSON.stringify(keys)}\n`;
      const manifest = (keys: Record<string, string>) => `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: app, namespace: default}
spec: {interval: 10m, url: "${daemon.url(repo.name)}", ref: {branch: main}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: app, namespace: default}
spec:
  interval: 10m
  prune: true
  path: ./deploy
  targetNamespace: ${ns}
  sourceRef: {kind: GitRepository, name: app}
  decryption:
    provider: sops
    secretRef: {name: sops-keys}
---
${keysSecret(keys)}`;
      const good = join(work, 'good.yaml');
      const wrong = join(work, 'wrong.yaml');
      writeFileSync(good, manifest({ 'age.agekey': age.identity, 'pgp.asc': pgp.armoredSecret }));
      writeFileSync(wrong, manifest({ 'age.agekey': otherAge.identity }));
      const wrongSecretFile = join(work, 'wrong-keys.yaml');
      writeFileSync(wrongSecretFile, keysSecret({ 'age.agekey': otherAge.identity }));

      // A good commit: every Secret lands decrypted, in the target namespace (which the MAC does not cover).
      const first = await upOnce('-f', good);
      expect(first.stdout).toContain(
        `✔ kustomization default/app: Applied revision: main@sha1:${repo.revParse()}`,
      );
      expect(first.code).toBe(0);
      expect(await secretValue('db')).toBe(SECRETS.age);
      expect(await secretValue('api')).toBe(SECRETS.pgp);
      expect(await secretValue('smtp', 'SMTP_PASSWORD')).toBe(SECRETS.env);
      expect(await secretValue('smtp', 'SMTP_HOST')).toBe('mail.example.com');

      // kedge diff decrypts with the stored keys: the render equals what is live.
      const diff = await kedge(
        'diff',
        'kustomization',
        'app',
        '--path',
        join(repo.dir, 'deploy'),
        '--kubeconfig',
        inject('kubeconfig'),
      );
      expect({ code: diff.code, stdout: diff.stdout, stderr: diff.stderr }).toEqual({
        code: 0,
        stdout: '',
        stderr: '',
      });
      // kedge build with --decryption-secret: the given keys replace the stored ones (here: wrong ones).
      const built = await kedge('build', 'kustomization', 'app', '--path', join(repo.dir, 'deploy'));
      expect(built.stdout).toContain(SECRETS.pgp);
      const refused = await kedge(
        'build',
        'kustomization',
        'app',
        '--path',
        join(repo.dir, 'deploy'),
        '--decryption-secret',
        wrongSecretFile,
      );
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/failed to decrypt deploy\/smtp\.env: .*identity did not match/);

      // A tampered file in a commit that also drops the ConfigMap: DecryptionFailed naming it, nothing pruned.
      const tampered = repo.commit({
        'deploy/pgp-secret.yaml': tamper(files['deploy/pgp-secret.yaml']),
        'deploy/settings.yaml': null,
        'deploy/kustomization.yaml': files['deploy/kustomization.yaml'].replace(', settings.yaml', ''),
      });
      const second = await upOnce();
      expect(second.code).toBe(1);
      let status = await kustomizationStatus();
      expect(status.ready).toMatchObject({ status: 'False', reason: 'DecryptionFailed' });
      expect(status.ready?.message).toMatch(
        /failed to decrypt Secret '.*\/api' \(in deploy\/pgp-secret\.yaml\): .*message authentication failed/,
      );
      expect(status.raw).toContain(`"lastAttemptedRevision":"main@sha1:${tampered}"`);
      await kube.core.readNamespacedConfigMap({ name: 'settings', namespace: ns });
      expect(await secretValue('api')).toBe(SECRETS.pgp);

      // The file repaired but the keys replaced by a wrong one: DecryptionFailed naming the first file, still nothing pruned.
      // (Applied before the engine starts: a changed decryption Secret, as in Flux, triggers no reconcile by itself.)
      const repaired = repo.commit({ 'deploy/pgp-secret.yaml': files['deploy/pgp-secret.yaml'] });
      expect((await kedge('apply', '-f', wrong)).code).toBe(0);
      const third = await upOnce();
      expect(third.code).toBe(1);
      status = await kustomizationStatus();
      expect(status.ready).toMatchObject({ status: 'False', reason: 'DecryptionFailed' });
      expect(status.ready?.message).toMatch(
        /failed to decrypt deploy\/smtp\.env: .*identity did not match any of the recipients/,
      );
      expect(status.raw).toContain(`"lastAttemptedRevision":"main@sha1:${repaired}"`);
      await kube.core.readNamespacedConfigMap({ name: 'settings', namespace: ns });

      // The right keys again: applied, and only now the ConfigMap the commit removed is pruned.
      expect((await kedge('apply', '-f', good)).code).toBe(0);
      const fourth = await upOnce();
      expect(fourth.stdout).toContain(`✔ kustomization default/app: Applied revision: main@sha1:${repaired}`);
      expect(fourth.code).toBe(0);
      await expect(kube.core.readNamespacedConfigMap({ name: 'settings', namespace: ns })).rejects.toThrow();
      status = await kustomizationStatus();

      // No secret value anywhere: data dir (store, WAL, artifacts, scratch), engine output, events, status.
      expect(readdirSync(join(dataDir, 'tmp'))).toEqual([]);
      const dataFiles = readdirSync(dataDir, { recursive: true, withFileTypes: true }).filter((e) =>
        e.isFile(),
      );
      expect(dataFiles.length).toBeGreaterThan(0);
      for (const value of Object.values(SECRETS)) {
        for (const entry of dataFiles) {
          const file = join(entry.parentPath, entry.name);
          if (statSync(file).size > 0)
            expect(readFileSync(file).includes(value), `${value} in ${file}`).toBe(false);
        }
        for (const output of outputs) expect(output).not.toContain(value);
        expect(status.raw).not.toContain(value);
        expect(status.events).not.toContain(value);
      }
      expect(outputs.join('\n')).toContain('DecryptionFailed');
    },
    // Four engine runs, each bounded by --timeout, and six CLI runs.
    4 * startsBudgetMs(1, 20_000, ONCE_TIMEOUT_MS) + 6 * startsBudgetMs(1, 20_000, 60_000),
  );
});
