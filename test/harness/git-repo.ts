import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** Files to write: path → content; `null` deletes the file; `{ content, mode }` sets a mode (e.g. 0o755). */
export type RepoFiles = Record<string, string | null | { content: string; mode: number }>;

/** A throwaway GnuPG home with one signing key (no passphrase). */
export interface TestGpgKey {
  home: string;
  fingerprint: string;
  /** Armored public key, as a Flux verification Secret would hold it. */
  publicKey: string;
  dispose(): void;
}

/** A real git repository with a working tree, in a temp dir, driven by the git binary. */
export interface TestRepo {
  dir: string;
  /** Name of the repository inside its root (what the servers serve it as). */
  name: string;
  /** `file://` URL of the repository. */
  url: string;
  /** Writes files on the current (or given) branch, commits and returns the commit id. */
  commit(files: RepoFiles, opts?: { message?: string; branch?: string; sign?: TestGpgKey }): string;
  /** Creates a tag on `target` (default HEAD): lightweight unless `annotated` or `sign`. */
  tag(
    name: string,
    opts?: { target?: string; annotated?: boolean; sign?: TestGpgKey; message?: string },
  ): void;
  /** Points any ref (`refs/pull/1/head`, `refs/heads/x`) at a commit, moving it like a force-push. */
  setRef(ref: string, commit: string): void;
  deleteRef(ref: string): void;
  /** Commit id of a ref (default HEAD). */
  revParse(ref?: string): string;
  git(...args: string[]): string;
}

const BASE_ENV: NodeJS.ProcessEnv = {
  PATH: process.env['PATH'],
  LC_ALL: 'C',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 'Kedge Test',
  GIT_AUTHOR_EMAIL: 'test@kedge.dev',
  GIT_COMMITTER_NAME: 'Kedge Test',
  GIT_COMMITTER_EMAIL: 'test@kedge.dev',
};

function gitIn(dir: string, args: string[], gpg?: TestGpgKey): string {
  const env = gpg ? { ...BASE_ENV, GNUPGHOME: gpg.home } : BASE_ENV;
  return execFileSync('git', args, {
    cwd: dir,
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

function writeFiles(dir: string, files: RepoFiles): void {
  for (const [path, value] of Object.entries(files)) {
    const file = join(dir, path);
    if (value === null) {
      rmSync(file, { force: true });
      continue;
    }
    mkdirSync(dirname(file), { recursive: true });
    const content = typeof value === 'string' ? value : value.content;
    writeFileSync(file, content);
    chmodSync(file, typeof value === 'string' ? 0o644 : value.mode);
  }
}

/**
 * Creates a repository `<root>/<name>` (root defaults to a new temp dir) with one commit of `files` on
 * `branch` (default `main`). Remove it with `rmSync(root)` when done.
 */
export function createRepo(opts: {
  files: RepoFiles;
  branch?: string;
  root?: string;
  name?: string;
  message?: string;
}): TestRepo {
  const root = opts.root ?? mkdtempSync(join(tmpdir(), 'kedge-repo-'));
  const name = opts.name ?? 'repo';
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  gitIn(dir, ['init', '-q', '-b', opts.branch ?? 'main', '.']);
  const repo: TestRepo = {
    dir,
    name,
    url: `file://${dir}`,
    git: (...args) => gitIn(dir, args),
    commit(files, { message = 'update', branch, sign } = {}) {
      if (branch) {
        const exists = gitIn(dir, ['branch', '--list', branch]) !== '';
        gitIn(dir, ['checkout', '-q', ...(exists ? [] : ['-b']), branch]);
      }
      writeFiles(dir, files);
      gitIn(dir, ['add', '-A']);
      const signing = sign ? ['-c', `user.signingkey=${sign.fingerprint}`, 'commit', '-S'] : ['commit'];
      gitIn(dir, [...signing, '-q', '--allow-empty', '-m', message], sign);
      return gitIn(dir, ['rev-parse', 'HEAD']);
    },
    tag(tagName, { target = 'HEAD', annotated = false, sign, message = `release ${tagName}` } = {}) {
      if (sign)
        gitIn(
          dir,
          ['-c', `user.signingkey=${sign.fingerprint}`, 'tag', '-s', '-m', message, tagName, target],
          sign,
        );
      else if (annotated) gitIn(dir, ['tag', '-a', '-m', message, tagName, target]);
      else gitIn(dir, ['tag', tagName, target]);
    },
    setRef: (ref, commit) => void gitIn(dir, ['update-ref', ref, commit]),
    deleteRef: (ref) => void gitIn(dir, ['update-ref', '-d', ref]),
    revParse: (ref = 'HEAD') => gitIn(dir, ['rev-parse', `${ref}^{commit}`]),
  };
  repo.commit(opts.files, { message: opts.message ?? 'initial commit' });
  return repo;
}

/** Generates a passphrase-less ed25519 signing key in a throwaway GnuPG home. */
export function createGpgKey(userId = 'Kedge Test <test@kedge.dev>'): TestGpgKey {
  const home = mkdtempSync(join(tmpdir(), 'kgpg-'));
  chmodSync(home, 0o700);
  const env = { PATH: process.env['PATH'], GNUPGHOME: home, LC_ALL: 'C' };
  const gpg = (args: string[]): string =>
    execFileSync('gpg', ['--batch', ...args], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  gpg(['--passphrase', '', '--quick-gen-key', userId, 'ed25519', 'sign', 'never']);
  const fingerprint = /^fpr:+([0-9A-F]+):/m.exec(gpg(['--with-colons', '--list-secret-keys']))?.[1];
  if (!fingerprint) throw new Error(`gpg did not create a key in ${home}`);
  return {
    home,
    fingerprint,
    publicKey: gpg(['--armor', '--export', fingerprint]),
    dispose() {
      try {
        execFileSync('gpgconf', ['--kill', 'all'], { env, stdio: 'ignore' });
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
    },
  };
}
