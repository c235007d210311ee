import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execFileTracked } from './tracked-process.ts';

/** The cold build of sops from Go modules (scripts/build-sops.sh): about 4 CPU-minutes, far longer under load. */
export const SopsBuildBudgetMs = 30 * 60_000;

/** sops and age-keygen, as built and cached by scripts/build-sops.sh (built now if the cache has none). */
export interface SopsTools {
  sops: string;
  ageKeygen: string;
}

export async function sopsTools(): Promise<SopsTools> {
  const script = resolve(import.meta.dirname, '../../scripts/build-sops.sh');
  const { stdout } = await execFileTracked('bash', [script], { timeoutMs: SopsBuildBudgetMs });
  const dir = stdout.trim().split('\n').at(-1)!;
  return { sops: join(dir, 'sops'), ageKeygen: join(dir, 'age-keygen') };
}

/** A fresh age key pair made by age-keygen. */
export interface AgeKey {
  /** The identity file's text (`# created…`, `# public key: …`, `AGE-SECRET-KEY-…`), as a `*.agekey` entry holds it. */
  identity: string;
  recipient: string;
}

export async function newAgeKey(tools: SopsTools): Promise<AgeKey> {
  const { stdout } = await execFileTracked(tools.ageKeygen, []);
  const recipient = /public key: (age1\S+)/.exec(stdout)?.[1];
  if (!recipient) throw new Error(`age-keygen printed no public key: ${stdout}`);
  return { identity: stdout, recipient };
}

/** A fresh OpenPGP key (no passphrase, with an encryption subkey) in a throwaway GnuPG home. */
export interface PgpKey {
  home: string;
  fingerprint: string;
  /** The armored private key, as a `*.asc` entry holds it. */
  armoredSecret: string;
  dispose(): Promise<void>;
}

export async function newPgpKey(uid = 'Kedge SOPS Test <sops@kedge.dev>'): Promise<PgpKey> {
  const home = mkdtempSync(join(tmpdir(), 'ksops-gpg-'));
  const env = { PATH: process.env['PATH'], GNUPGHOME: home, LC_ALL: 'C' };
  const gpg = async (...args: string[]) =>
    (await execFileTracked('gpg', ['--batch', ...args], { env })).stdout;
  await gpg('--passphrase', '', '--quick-gen-key', uid, 'default', 'default', 'never');
  const fingerprint = /^fpr:+([0-9A-F]+):/m.exec(await gpg('--with-colons', '--list-secret-keys'))?.[1];
  if (!fingerprint) throw new Error(`gpg made no key in ${home}`);
  const armoredSecret = await gpg('--armor', '--export-secret-keys', fingerprint);
  return {
    home,
    fingerprint,
    armoredSecret,
    async dispose() {
      await execFileTracked('gpgconf', ['--kill', 'all'], { env }).catch(() => undefined);
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** What to encrypt for. */
export interface Recipients {
  age?: AgeKey;
  pgp?: PgpKey;
}

/**
 * Encrypts `plain` (a file of `format`) with the real sops for the given keys, as a user would before committing,
 * and returns the encrypted text. Kubernetes manifests pass `encryptedRegex: '^(data|stringData)$'` as Flux's
 * guide does.
 */
export async function sopsEncrypt(
  tools: SopsTools,
  plain: string | Buffer,
  format: 'yaml' | 'json' | 'dotenv' | 'ini' | 'binary',
  to: Recipients,
  opts: { encryptedRegex?: string } = {},
): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'ksops-enc-'));
  try {
    const file = join(dir, 'plain');
    writeFileSync(file, plain);
    const args = ['encrypt', '--input-type', format, '--output-type', format];
    if (to.age) args.push('--age', to.age.recipient);
    if (to.pgp) args.push('--pgp', to.pgp.fingerprint);
    if (opts.encryptedRegex) args.push('--encrypted-regex', opts.encryptedRegex);
    const env = {
      PATH: process.env['PATH'],
      HOME: dir,
      SOPS_CONFIG: '/dev/null',
      SOPS_DISABLE_VERSION_CHECK: '1',
      ...(to.pgp ? { GNUPGHOME: to.pgp.home } : {}),
    };
    return (await execFileTracked(tools.sops, [...args, file], { env, cwd: dir })).stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Changes one character of the first encrypted value's ciphertext (`ENC[AES256_GCM,data:…`): a tampered file. */
export function tamper(encrypted: string): string {
  return encrypted.replace(
    /ENC\[AES256_GCM,data:(.)/,
    (_match, first: string) => `ENC[AES256_GCM,data:${first === 'A' ? 'B' : 'A'}`,
  );
}
