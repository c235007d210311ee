import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkout, GitError, resolveRemote, type GitReference } from '../src/source/git/index.ts';
import { createRepo, type TestRepo } from './harness/git-repo.ts';

const opts = { timeoutMs: 30_000 };
let repo: TestRepo;
let work: string;
const commits: Record<string, string> = {};
let n = 0;
const freshDir = (): string => join(work, `checkout-${n++}`);

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'kedge-refs-'));
  repo = createRepo({ files: { 'app.yaml': 'version: 1\n' } });
  commits['first'] = repo.revParse();
  repo.tag('v1.0.0');
  commits['second'] = repo.commit({ 'app.yaml': 'version: 1.1\n' }, { message: 'bump to 1.1' });
  repo.tag('1.1.0', { annotated: true });
  commits['third'] = repo.commit({ 'app.yaml': 'version: 2\n' }, { message: 'bump to 2' });
  repo.tag('v2.0.0', { annotated: true });
  repo.tag('not-a-version');
  commits['feature'] = repo.commit(
    { 'feature.yaml': 'on\n' },
    { branch: 'feature', message: 'feature work' },
  );
  repo.git('checkout', '-q', 'main');
  repo.setRef('refs/pull/1/head', commits['feature']);
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  rmSync(join(repo.dir, '..'), { recursive: true, force: true });
});

describe('ref kinds (file://)', () => {
  const cases: Array<[string, GitReference, (c: typeof commits) => { revision: string; file: string }]> = [
    ['branch', { branch: 'main' }, (c) => ({ revision: `main@sha1:${c['third']}`, file: 'version: 2\n' })],
    [
      'other branch',
      { branch: 'feature' },
      (c) => ({ revision: `feature@sha1:${c['feature']}`, file: 'version: 2\n' }),
    ],
    [
      'lightweight tag',
      { tag: 'v1.0.0' },
      (c) => ({ revision: `v1.0.0@sha1:${c['first']}`, file: 'version: 1\n' }),
    ],
    [
      'annotated tag',
      { tag: '1.1.0' },
      (c) => ({ revision: `1.1.0@sha1:${c['second']}`, file: 'version: 1.1\n' }),
    ],
    [
      'semver picks the highest in range',
      { semver: '>=1.0.0 <2.0.0' },
      (c) => ({ revision: `1.1.0@sha1:${c['second']}`, file: 'version: 1.1\n' }),
    ],
    [
      'semver over all tags',
      { semver: '*' },
      (c) => ({ revision: `v2.0.0@sha1:${c['third']}`, file: 'version: 2\n' }),
    ],
    [
      'semver beats tag and branch',
      { semver: '~1.0', tag: 'v2.0.0', branch: 'feature' },
      (c) => ({ revision: `v1.0.0@sha1:${c['first']}`, file: 'version: 1\n' }),
    ],
    [
      'commit with branch',
      { branch: 'main', commit: '' },
      (c) => ({ revision: `main@sha1:${c['second']}`, file: 'version: 1.1\n' }),
    ],
    ['commit alone', { commit: '' }, (c) => ({ revision: `sha1:${c['first']}`, file: 'version: 1\n' })],
    [
      'name refs/pull/1/head',
      { name: 'refs/pull/1/head' },
      (c) => ({ revision: `refs/pull/1/head@sha1:${c['feature']}`, file: 'version: 2\n' }),
    ],
  ];

  it.each(cases)('%s', async (title, ref, expected) => {
    const actual: GitReference = { ...ref };
    if (title === 'commit with branch') actual.commit = commits['second'];
    if (title === 'commit alone') actual.commit = commits['first'];
    const want = expected(commits);
    const remote = await resolveRemote(repo.url, actual, {}, opts);
    expect(remote.revision).toBe(want.revision);
    const dir = freshDir();
    const result = await checkout(repo.url, actual, {}, dir, opts);
    expect(result.revision).toBe(want.revision);
    expect(readFileSync(join(dir, 'app.yaml'), 'utf8')).toBe(want.file);
  });

  it('defaults to the master branch when no ref is given', async () => {
    const masterRepo = createRepo({ files: { 'a.txt': 'a' }, branch: 'master' });
    try {
      const result = await checkout(masterRepo.url, {}, {}, freshDir(), opts);
      expect(result.revision).toBe(`master@sha1:${masterRepo.revParse()}`);
      expect(result.commitMessage).toBe('initial commit');
    } finally {
      rmSync(join(masterRepo.dir, '..'), { recursive: true, force: true });
    }
  });

  it.each<[string, GitReference, string]>([
    ['branch', { branch: 'main' }, 'bump to 2'],
    ['annotated tag', { tag: '1.1.0' }, 'bump to 1.1'],
    ['commit with branch (history fetched)', { branch: 'main', commit: '' }, 'initial commit'],
    ['name', { name: 'refs/pull/1/head' }, 'feature work'],
  ])('reports the message of the commit checked out: %s', async (_title, ref, message) => {
    const actual = ref.commit === '' ? { ...ref, commit: commits['first'] } : ref;
    expect((await checkout(repo.url, actual, {}, freshDir(), opts)).commitMessage).toBe(message);
  });

  it('keeps a multi-line message whole, from a fetched history kept as a pack', async () => {
    // Over 100 objects: the fetch keeps them as a pack (fewer are unpacked into loose objects).
    const files = Object.fromEntries(Array.from({ length: 110 }, (_, i) => [`f${i}.yaml`, `n: ${i}\n`]));
    const history = createRepo({ files, message: 'subject line\n\nbody line 1\nbody line 2' });
    try {
      const first = history.revParse();
      history.commit({ 'f0.yaml': 'n: changed\n' }, { message: 'second' });
      const pinned = await checkout(history.url, { branch: 'main', commit: first }, {}, freshDir(), opts);
      expect(pinned.commitMessage).toBe('subject line\n\nbody line 1\nbody line 2');
      const tip = await checkout(history.url, { branch: 'main' }, {}, freshDir(), opts);
      expect(tip.commitMessage).toBe('second');
    } finally {
      rmSync(join(history.dir, '..'), { recursive: true, force: true });
    }
  });

  it('re-encodes a message that declares another encoding into UTF-8', async () => {
    const latin1 = createRepo({ files: { 'a.yaml': 'a\n' } });
    try {
      const message = join(latin1.dir, '..', 'message.txt');
      writeFileSync(message, Buffer.from('caf\xe9 au lait\n', 'latin1'));
      latin1.git('-c', 'i18n.commitEncoding=ISO-8859-1', 'commit', '-q', '--allow-empty', '-F', message);
      const result = await checkout(latin1.url, { branch: 'main' }, {}, freshDir(), opts);
      expect(result.commitMessage).toBe('café au lait');
    } finally {
      rmSync(join(latin1.dir, '..'), { recursive: true, force: true });
    }
  });

  it('tells a branch from a tag of the same name', async () => {
    const same = createRepo({ files: { 'app.yaml': 'on: tag\n' } });
    try {
      same.tag('same');
      same.tag('only-a-tag');
      same.commit({ 'app.yaml': 'on: branch\n' }, { branch: 'same', message: 'on the branch' });
      const branch = freshDir();
      await checkout(same.url, { branch: 'same' }, {}, branch, opts);
      expect(readFileSync(join(branch, 'app.yaml'), 'utf8')).toBe('on: branch\n');
      const tag = freshDir();
      await checkout(same.url, { tag: 'same' }, {}, tag, opts);
      expect(readFileSync(join(tag, 'app.yaml'), 'utf8')).toBe('on: tag\n');
      await expect(checkout(same.url, { branch: 'only-a-tag' }, {}, freshDir(), opts)).rejects.toMatchObject({
        code: 'not-found',
        message: expect.stringMatching(/branch 'only-a-tag' not found/) as unknown,
      });
    } finally {
      rmSync(join(same.dir, '..'), { recursive: true, force: true });
    }
  });

  it('sees a force-pushed branch move and a deleted ref disappear', async () => {
    repo.setRef('refs/heads/moving', commits['third']!);
    expect((await resolveRemote(repo.url, { branch: 'moving' }, {}, opts)).commit).toBe(commits['third']);
    repo.setRef('refs/heads/moving', commits['first']!);
    expect((await resolveRemote(repo.url, { branch: 'moving' }, {}, opts)).commit).toBe(commits['first']);
    repo.deleteRef('refs/heads/moving');
    await expect(resolveRemote(repo.url, { branch: 'moving' }, {}, opts)).rejects.toMatchObject({
      code: 'not-found',
    });
  });

  it.each<[string, GitReference, string, RegExp]>([
    ['missing branch', { branch: 'nope' }, 'not-found', /branch 'nope' not found/],
    ['missing tag', { tag: 'v9.9.9' }, 'not-found', /tag 'v9.9.9' not found/],
    ['no tag in range', { semver: '>=5.0.0' }, 'not-found', /no tag .* satisfies semver range '>=5.0.0'/],
    ['invalid semver', { semver: 'not a range!!' }, 'invalid-ref', /semver range 'not a range!!' is invalid/],
    ['short commit', { commit: 'abc123' }, 'invalid-ref', /not a full 40-character/],
    ['name outside refs/', { name: 'pull/1/head' }, 'invalid-ref', /must start with 'refs\/'/],
  ])('%s fails with %s', async (_title, ref, code, message) => {
    for (const attempt of [
      () => resolveRemote(repo.url, ref, {}, opts),
      () => checkout(repo.url, ref, {}, freshDir(), opts),
    ]) {
      const error = await attempt().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GitError);
      expect(error).toMatchObject({ code });
      expect((error as GitError).message).toMatch(message);
    }
  });

  it('rejects a pinned commit that is not in the given branch', async () => {
    const error = await checkout(
      repo.url,
      { branch: 'main', commit: commits['feature']! },
      {},
      freshDir(),
      opts,
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'not-found' });
  });

  it.each(['ftp://example.com/repo', '/plain/path', 'git@github.com:org/repo.git'])(
    'rejects url %s',
    async (url) => {
      await expect(resolveRemote(url, { branch: 'main' }, {}, opts)).rejects.toMatchObject({
        code: 'invalid-url',
      });
    },
  );

  it('refuses to check out into a non-empty directory', async () => {
    const dir = freshDir();
    await checkout(repo.url, { branch: 'main' }, {}, dir, opts);
    await expect(checkout(repo.url, { branch: 'main' }, {}, dir, opts)).rejects.toMatchObject({
      code: 'failed',
    });
  });

  it('reports a timeout when the deadline has passed', async () => {
    await expect(
      checkout(repo.url, { branch: 'main' }, {}, freshDir(), { timeoutMs: 0 }),
    ).rejects.toMatchObject({ code: 'timeout' });
  });
});
