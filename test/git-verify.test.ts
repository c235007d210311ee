import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkout,
  GitError,
  verifyCheckout,
  type GitReference,
  type VerificationMode,
} from '../src/source/git/index.ts';
import { createGpgKey, createRepo, type TestGpgKey, type TestRepo } from './harness/git-repo.ts';

const opts = { timeoutMs: 30_000 };
let repo: TestRepo;
let work: string;
let signer: TestGpgKey;
let stranger: TestGpgKey;
let n = 0;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'kedge-verify-'));
  signer = createGpgKey('Kedge Signer <signer@kedge.dev>');
  stranger = createGpgKey('Someone Else <else@kedge.dev>');
  repo = createRepo({ files: { 'a.yaml': 'a: 1\n' } });
  repo.tag('v0.1.0', { annotated: true });
  repo.commit({ 'a.yaml': 'a: 2\n' }, { branch: 'signed', sign: signer, message: 'signed change' });
  repo.tag('v1.0.0', { sign: signer });
  repo.tag('v1.0.1');
  repo.git('checkout', '-q', 'main');
});

afterAll(() => {
  signer.dispose();
  stranger.dispose();
  rmSync(work, { recursive: true, force: true });
  rmSync(join(repo.dir, '..'), { recursive: true, force: true });
});

async function verify(
  ref: GitReference,
  mode: VerificationMode,
  keys: () => string[],
): Promise<{ message: string }> {
  const dir = join(work, `checkout-${n++}`);
  const resolved = await checkout(repo.url, ref, {}, dir, opts);
  return verifyCheckout(dir, resolved, mode, keys());
}

describe('verifyCheckout', () => {
  it.each<[string, GitReference, VerificationMode, RegExp]>([
    [
      'signed HEAD',
      { branch: 'signed' },
      'HEAD',
      /^verified signature of\n\t- commit 'signed@sha1:[0-9a-f]{40}' with key '[0-9A-F]{40}'$/,
    ],
    [
      'signed annotated tag',
      { tag: 'v1.0.0' },
      'Tag',
      /^verified signature of\n\t- tag 'v1.0.0' with key '[0-9A-F]{40}'$/,
    ],
    [
      'signed tag and signed HEAD',
      { tag: 'v1.0.0' },
      'TagAndHEAD',
      /^verified signature of\n\t- tag 'v1.0.0' with key '[0-9A-F]{40}'\n\t- commit 'v1.0.0@sha1:[0-9a-f]{40}' with key '[0-9A-F]{40}'$/,
    ],
  ])('%s passes', async (_title, ref, mode, message) => {
    const result = await verify(ref, mode, () => [stranger.publicKey, signer.publicKey]);
    expect(result.message).toMatch(message);
    expect(result.message).toContain(signer.fingerprint);
  });

  it.each<[string, GitReference, VerificationMode, () => string[], RegExp]>([
    ['unsigned HEAD', { branch: 'main' }, 'HEAD', () => [signer.publicKey], /not signed/],
    ['HEAD signed by another key', { branch: 'signed' }, 'HEAD', () => [stranger.publicKey], /unknown key/],
    ['unsigned annotated tag', { tag: 'v0.1.0' }, 'Tag', () => [signer.publicKey], /not signed/],
    [
      'lightweight tag in Tag mode',
      { tag: 'v1.0.1' },
      'Tag',
      () => [signer.publicKey],
      /not an annotated tag/,
    ],
    ['Tag mode on a branch', { branch: 'signed' }, 'Tag', () => [signer.publicKey], /is not a tag/],
    ['no keys', { branch: 'signed' }, 'HEAD', () => [], /no public keys/],
    ['garbage key', { branch: 'signed' }, 'HEAD', () => ['not a key'], /cannot import/],
  ])('%s fails with verification', async (_title, ref, mode, keys, message) => {
    const error = await verify(ref, mode, keys).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GitError);
    expect(error).toMatchObject({ code: 'verification' });
    expect((error as GitError).message).toMatch(message);
  });
});
