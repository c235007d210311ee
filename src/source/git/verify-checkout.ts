import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GitError } from './git-error.ts';
import type { ResolvedRevision } from './git-reference.ts';

/** Flux's `spec.verify.mode`. */
export type VerificationMode = 'HEAD' | 'Tag' | 'TagAndHEAD';

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd?: string,
  input = '',
): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Verifies the OpenPGP signature of the checked-out HEAD commit and/or of the annotated tag `resolved.ref`
 * against `armoredKeys` only (a throwaway keyring; no other key is trusted). Returns Flux's success message
 * (`verified signature of` then one `\t- tag|commit '<id>' with key '<fingerprint>'` line per object). Throws GitError 'verification' when a
 * signature is missing, bad, made by another key, or Tag mode is asked for something that is not a tag.
 */
export async function verifyCheckout(
  dir: string,
  resolved: ResolvedRevision,
  mode: VerificationMode,
  armoredKeys: string[],
  tmpRoot: string = tmpdir(),
): Promise<{ message: string }> {
  const needTag = mode === 'Tag' || mode === 'TagAndHEAD';
  if (needTag && !resolved.ref.startsWith('refs/tags/')) {
    throw new GitError('verification', `cannot verify tag signature: '${resolved.revision}' is not a tag`);
  }
  if (armoredKeys.length === 0)
    throw new GitError('verification', 'no public keys to verify signatures with');
  const home = await mkdtemp(join(tmpRoot, 'kedge-gpg-'));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    GNUPGHOME: home,
    HOME: home,
    LC_ALL: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
  };
  try {
    for (const key of armoredKeys) {
      const imported = await run('gpg', ['--batch', '--quiet', '--import'], env, undefined, key);
      if (imported.code !== 0)
        throw new GitError('verification', 'cannot import a public key: not an armored openpgp public key');
    }
    const verified: string[] = [];
    if (needTag) {
      const tag = resolved.ref.slice('refs/tags/'.length);
      const key = await verifyObject(['verify-tag', '--raw', resolved.ref], env, dir, `tag '${tag}'`);
      verified.push(`tag '${tag}' with key '${key}'`);
    }
    if (mode === 'HEAD' || mode === 'TagAndHEAD') {
      const key = await verifyObject(
        ['verify-commit', '--raw', 'HEAD'],
        env,
        dir,
        `commit '${resolved.revision}'`,
      );
      verified.push(`commit '${resolved.revision}' with key '${key}'`);
    }
    return { message: `verified signature of\n${verified.map((line) => `\t- ${line}`).join('\n')}` };
  } finally {
    await run('gpgconf', ['--kill', 'all'], env).catch(() => undefined);
    await rm(home, { recursive: true, force: true });
  }
}

/** Runs git verify-commit/verify-tag and returns the fingerprint of the key of the good signature. */
async function verifyObject(
  args: string[],
  env: NodeJS.ProcessEnv,
  dir: string,
  what: string,
): Promise<string> {
  const outcome = await run('git', args, env, dir);
  const status = outcome.stderr;
  const fingerprint = /^\[GNUPG:\] VALIDSIG (\S+)/m.exec(status)?.[1];
  if (outcome.code === 0 && fingerprint) return fingerprint;
  let reason = 'no valid signature';
  if (/^\[GNUPG:\] NO_PUBKEY/m.test(status) || /^\[GNUPG:\] ERRSIG/m.test(status))
    reason = 'signed by an unknown key';
  else if (/^\[GNUPG:\] BADSIG/m.test(status)) reason = 'bad signature';
  else if (/non-tag object|cannot verify a non-tag/i.test(status)) reason = 'not an annotated tag';
  else if (!/^\[GNUPG:\]/m.test(status)) reason = 'not signed';
  throw new GitError('verification', `signature verification of ${what} failed: ${reason}`);
}
