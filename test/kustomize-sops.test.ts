import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KObject } from '../src/api/meta.ts';
import { BuildError } from '../src/kustomize/build.ts';
import { RenderCache } from '../src/kustomize/render-cache.ts';
import { renderKustomization, type RenderOptions } from '../src/kustomize/render.ts';
import { DecryptionError } from '../src/kustomize/sops/decryption-error.ts';
import { sopsKeysFromSecret, type SopsKeys } from '../src/kustomize/sops/sops-keys.ts';
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

/** Every secret value of the fixture: none may appear in an error message or be left on disk. */
const SECRETS = {
  age: 'age-password-4f1c',
  pgp: 'pgp-password-9d2e',
  json: 'json-token-77ab',
  env: 'env-db-password-31c0',
  ini: 'ini-api-key-c3d4',
  binary: 'binary-tls-key-5e6f',
  base: 'base-env-secret-0a1b',
  patch: 'patched-value-8c9d',
};

const secretYaml = (name: string, value: string) =>
  `apiVersion: v1\nkind: Secret\nmetadata:\n  name: ${name}\ntype: Opaque\nstringData:\n  password: ${value}\n`;

describe('SOPS decryption in a render', () => {
  let tools: SopsTools;
  let age: AgeKey;
  let otherAge: AgeKey;
  let pgp: PgpKey;
  let work: string;
  let files: Record<string, string>;
  const keysOf = (values: Record<string, string>): SopsKeys =>
    sopsKeysFromSecret(values, "sops decryption Secret 'default/sops-keys'");
  let goodKeys: SopsKeys;

  beforeAll(async () => {
    tools = await sopsTools();
    [age, otherAge, pgp] = await Promise.all([newAgeKey(tools), newAgeKey(tools), newPgpKey()]);
    goodKeys = keysOf({ 'age.agekey': age.identity, 'pgp.asc': pgp.armoredSecret });
    const k8s = { encryptedRegex: '^(data|stringData)$' };
    files = {
      'app/kustomization.yaml': `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [secret-age.yaml, secret-pgp.yaml, secret.json, plain.yaml, left-encrypted.yaml, ../base]
generatorOptions: {disableNameSuffixHash: true}
secretGenerator:
  - name: env-secret
    envs: [app.env]
  - name: file-secret
    files: [settings.ini, tls.key=tls.bin]
patches:
  - path: patch.yaml
`,
      'app/secret-age.yaml': await sopsEncrypt(
        tools,
        secretYaml('age-secret', SECRETS.age),
        'yaml',
        { age },
        k8s,
      ),
      'app/secret-pgp.yaml': await sopsEncrypt(
        tools,
        secretYaml('pgp-secret', SECRETS.pgp),
        'yaml',
        { pgp },
        k8s,
      ),
      'app/secret.json': await sopsEncrypt(
        tools,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: 'json-secret' },
          stringData: { token: SECRETS.json },
        }),
        'json',
        { age },
        k8s,
      ),
      'app/plain.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {mode: plain}\n',
      'app/left-encrypted.yaml': (
        await sopsEncrypt(
          tools,
          secretYaml('left-encrypted', 'not-for-kedge'),
          'yaml',
          { age: otherAge },
          k8s,
        )
      ).replace(
        'metadata:\n',
        'metadata:\n    annotations:\n        kustomize.toolkit.fluxcd.io/decrypt: disabled\n',
      ),
      'app/app.env': await sopsEncrypt(tools, `DB_PASSWORD=${SECRETS.env}\nDB_USER=app\n`, 'dotenv', { age }),
      'app/settings.ini': await sopsEncrypt(tools, `[api]\nkey = ${SECRETS.ini}\n`, 'ini', { pgp }),
      'app/tls.bin': await sopsEncrypt(tools, Buffer.from(`${SECRETS.binary}\n`), 'binary', { age }),
      'app/patch.yaml': await sopsEncrypt(
        tools,
        `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  patched: ${SECRETS.patch}\n`,
        'yaml',
        { age },
        { encryptedRegex: '^data$' },
      ),
      'base/kustomization.yaml':
        'secretGenerator:\n  - name: base-secret\n    envs: [base.env]\n    options: {disableNameSuffixHash: true}\n',
      'base/base.env': await sopsEncrypt(tools, `BASE=${SECRETS.base}\n`, 'dotenv', { age }),
    };
  }, SopsBuildBudgetMs);

  afterAll(async () => {
    await pgp?.dispose();
  });

  const roots: string[] = [];
  afterEach(() => {
    for (const dir of roots.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  /** A fresh artifact tree with `files` (overridden by `changes`) and an empty scratch dir beside it. */
  function artifact(changes: Record<string, string> = {}): { root: string; scratch: string } {
    work = mkdtempSync(join(tmpdir(), 'kedge-sops-render-'));
    roots.push(work);
    const root = join(work, 'artifact');
    for (const [file, content] of Object.entries({ ...files, ...changes })) {
      mkdirSync(dirname(join(root, file)), { recursive: true });
      writeFileSync(join(root, file), content);
    }
    const scratch = join(work, 'scratch');
    mkdirSync(scratch);
    return { root, scratch };
  }

  const render = (where: { root: string; scratch: string }, opts: Partial<RenderOptions> = {}) =>
    renderKustomization({
      root: where.root,
      path: 'app',
      sharedRoot: true,
      tmpRoot: where.scratch,
      overlay: { targetNamespace: 'prod' },
      decryption: goodKeys,
      ...opts,
    });

  const find = (objects: KObject[], kind: string, name: string) => {
    const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
    if (!found)
      throw new Error(
        `no ${kind} ${name} in ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`,
      );
    return found as KObject & {
      data?: Record<string, string>;
      stringData?: Record<string, string>;
      sops?: unknown;
    };
  };
  const decoded = (value: string | undefined) => Buffer.from(value ?? '', 'base64').toString('utf8');

  it('decrypts encrypted manifests (age, OpenPGP; YAML, JSON) and generator and patch sources (dotenv, INI, binary), through a namespace overlay', async () => {
    const where = artifact();
    const objects = await render(where);

    // Whole manifests, decrypted after the build although the overlay changed values the MAC covers.
    const ageSecret = find(objects, 'Secret', 'age-secret');
    expect(ageSecret.stringData).toEqual({ password: SECRETS.age });
    expect(ageSecret.metadata.namespace).toBe('prod');
    expect(ageSecret.sops).toBeUndefined();
    expect(find(objects, 'Secret', 'pgp-secret').stringData).toEqual({ password: SECRETS.pgp });
    expect(find(objects, 'Secret', 'json-secret').stringData).toEqual({ token: SECRETS.json });

    // Generator sources, decrypted before kustomize read them, here and in a base reached through resources.
    expect(decoded(find(objects, 'Secret', 'env-secret').data?.DB_PASSWORD)).toBe(SECRETS.env);
    expect(decoded(find(objects, 'Secret', 'env-secret').data?.DB_USER)).toBe('app');
    expect(decoded(find(objects, 'Secret', 'file-secret').data?.['settings.ini'])).toBe(
      `[api]\nkey = ${SECRETS.ini}\n`,
    );
    expect(decoded(find(objects, 'Secret', 'file-secret').data?.['tls.key'])).toBe(`${SECRETS.binary}\n`);
    expect(decoded(find(objects, 'Secret', 'base-secret').data?.BASE)).toBe(SECRETS.base);

    // An encrypted patch, and a plain object untouched.
    expect(find(objects, 'ConfigMap', 'cfg').data).toEqual({ mode: 'plain', patched: SECRETS.patch });

    // Opted out with kustomize.toolkit.fluxcd.io/decrypt: disabled: left as it is.
    expect(find(objects, 'Secret', 'left-encrypted').sops).toBeDefined();

    // Nothing decrypted stays on disk: the private copy and sops's dir are gone.
    expect(readdirSync(where.scratch)).toEqual([]);
  });

  it.each([
    {
      name: 'a wrong age key fails on the first encrypted source, naming it',
      keys: () => keysOf({ 'age.agekey': otherAge.identity }),
      changes: () => ({}),
      message: /failed to decrypt app\/app\.env: .*identity did not match any of the recipients/,
    },
    {
      name: 'no key at all fails the same way',
      keys: () => keysOf({}),
      changes: () => ({}),
      message: /failed to decrypt app\/app\.env: Failed to get the data key/,
    },
    {
      name: 'a tampered manifest fails the AES-GCM check, naming the object and its file',
      keys: () => goodKeys,
      changes: () => ({ 'app/secret-age.yaml': tamper(files['app/secret-age.yaml']!) }),
      message:
        /failed to decrypt Secret 'prod\/age-secret' \(in app\/secret-age\.yaml\): .*message authentication failed/,
    },
    {
      name: 'a tampered generator source fails, naming the file',
      keys: () => goodKeys,
      changes: () => ({ 'base/base.env': tamper(files['base/base.env']!) }),
      message: /failed to decrypt base\/base\.env: .*message authentication failed/,
    },
    {
      name: 'a PGP-encrypted file without the PGP key fails, naming it',
      keys: () => keysOf({ 'age.agekey': age.identity }),
      changes: () => ({}),
      message: /failed to decrypt app\/settings\.ini: .*Failed to get the data key/,
    },
  ])('$name', async ({ keys, changes, message }) => {
    const where = artifact(changes());
    const error = await render(where, { decryption: keys() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DecryptionError);
    expect((error as DecryptionError).reason).toBe('DecryptionFailed');
    expect((error as Error).message).toMatch(message);
    for (const value of Object.values(SECRETS)) expect((error as Error).message).not.toContain(value);
    // sops's list of places it looked for keys (the private dir) and its recovery paragraph are left out.
    expect((error as Error).message).not.toMatch(/kedge-sops-|Recovery failed/);
    expect(readdirSync(where.scratch)).toEqual([]);
  });

  it.each([
    { name: 'a generator source above the artifact root', ref: '../../outside.env', link: false },
    { name: 'a generator source linked to a file outside the artifact', ref: 'outside-link.env', link: true },
  ])('neither reads nor decrypts $name: the confined build refuses it', async ({ ref, link }) => {
    const where = artifact({
      'app/kustomization.yaml': `secretGenerator:\n  - name: outside\n    envs: [${ref}]\n`,
    });
    const outside = join(work, 'outside.env');
    writeFileSync(outside, files['app/app.env']!);
    if (link) symlinkSync(outside, join(where.root, 'app', 'outside-link.env'));
    const error = await render(where).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BuildError);
    expect((error as Error).message).toMatch(/outside the artifact root/);
    expect((error as Error).message).not.toContain(SECRETS.env);
    expect(readdirSync(where.scratch)).toEqual([]);
  });

  it('refuses a PGP key entry that is not a key, naming the entry and the Secret', async () => {
    const where = artifact();
    const keys = keysOf({ 'age.agekey': age.identity, 'broken.asc': 'not a key' });
    await expect(render(where, { decryption: keys })).rejects.toThrow(
      "failed to import 'broken.asc' data from sops decryption Secret 'default/sops-keys'",
    );
    expect(readdirSync(where.scratch)).toEqual([]);
  });

  it('renders anew when the keys change, from the cache while they do not, and never keys the cache by the keys themselves', async () => {
    const where = artifact();
    const cache = new RenderCache();
    const cached = { cache, cacheSlot: 'default/app', digest: 'sha256:feed' };
    await render(where, cached);
    await render(where, cached);
    expect({ hits: cache.hits, misses: cache.misses }).toEqual({ hits: 1, misses: 1 });
    const rotated = keysOf({ 'age.agekey': `${age.identity}\n# rotated\n`, 'pgp.asc': pgp.armoredSecret });
    expect(rotated.digest).not.toBe(goodKeys.digest);
    expect(rotated.digest).not.toContain('AGE-SECRET-KEY');
    await render(where, { ...cached, decryption: rotated });
    expect({ hits: cache.hits, misses: cache.misses }).toEqual({ hits: 1, misses: 2 });
  });

  it('says how to get sops when it cannot be found, and does not remember the failure', async () => {
    const saved = process.env.KEDGE_SOPS_BIN;
    const where = artifact();
    try {
      process.env.KEDGE_SOPS_BIN = join(where.scratch, 'no-sops');
      const error = await render(where).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DecryptionError);
      expect((error as Error).message).toMatch(
        /sops is not available to decrypt with: KEDGE_SOPS_BIN=.* is not a runnable sops binary; install sops on PATH/,
      );
    } finally {
      if (saved === undefined) delete process.env.KEDGE_SOPS_BIN;
      else process.env.KEDGE_SOPS_BIN = saved;
    }
    expect(readdirSync(where.scratch)).toEqual([]);
    expect(find(await render(where), 'Secret', 'age-secret').stringData).toEqual({ password: SECRETS.age });
  });
});
