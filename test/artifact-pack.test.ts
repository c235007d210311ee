import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { list } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packArtifact } from '../src/source/artifact/index.ts';
import { checkout } from '../src/source/git/index.ts';
import { createRepo } from './harness/git-repo.ts';

let work: string;
let n = 0;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'kedge-pack-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function tree(files: Record<string, string>): string {
  const dir = join(work, `tree-${n++}`);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

interface Entry {
  path: string;
  mode: number;
  mtime: number;
  uid: number;
  gid: number;
  uname: string;
}

async function pack(
  dir: string,
  ignore?: string,
): Promise<{ entries: Entry[]; digest: string; size: number }> {
  const out = join(work, `artifact-${n++}.tar.gz`);
  const packed = await packArtifact(dir, out, ignore === undefined ? {} : { ignore });
  const entries: Entry[] = [];
  await list({
    file: out,
    onReadEntry: (e) =>
      void entries.push({
        path: e.path,
        mode: e.mode ?? -1,
        mtime: e.mtime?.getTime() ?? -1,
        uid: e.uid ?? 0,
        gid: e.gid ?? 0,
        uname: e.uname ?? '',
      }),
  });
  return { entries, ...packed };
}

const paths = async (dir: string, ignore?: string): Promise<string[]> =>
  (await pack(dir, ignore)).entries.map((e) => e.path);

const SAMPLE = {
  'deploy/app.yaml': 'a',
  'deploy/logo.png': 'png',
  'docs/pic.JPG': 'upper-case ext is kept, as in Flux',
  '.gitignore': 'x',
  '.gitmodules': 'x',
  '.gitattributes': 'x',
  '.git/config': 'x',
  '.github/workflows/ci.yaml': 'x',
  '.circleci/config.yml': 'x',
  '.travis.yml': 'x',
  'release.tar.gz': 'x',
  'bundle.zip': 'x',
  'sub/.sops.yaml': 'x',
  'sub/.flux.yaml': 'x',
  'sub/cloudbuild.yaml': 'excluded at any depth, like gitignore basename patterns',
  'README.md': 'r',
};

describe('packArtifact exclusions', () => {
  it('applies Flux default exclusions when there are no other rules', async () => {
    expect(await paths(tree(SAMPLE))).toEqual(['README.md', 'deploy/app.yaml', 'docs/pic.JPG']);
  });

  it('applies .sourceignore files relative to their directory, replacing the defaults', async () => {
    const dir = tree({
      ...SAMPLE,
      '.sourceignore': '# comment\n/README.md\n',
      'deploy/.sourceignore': '*.yaml\n!keep.yaml\n',
      'deploy/keep.yaml': 'k',
      'other/app.yaml': 'o',
    });
    expect(await paths(dir)).toEqual([
      '.circleci/config.yml',
      '.github/workflows/ci.yaml',
      '.sourceignore',
      '.travis.yml',
      'bundle.zip',
      'deploy/.sourceignore',
      'deploy/keep.yaml',
      'deploy/logo.png',
      'docs/pic.JPG',
      'other/app.yaml',
      'release.tar.gz',
      'sub/.flux.yaml',
      'sub/.sops.yaml',
      'sub/cloudbuild.yaml',
    ]);
  });

  it('spec.ignore replaces the defaults and can re-include VCS files as in Flux, except .git', async () => {
    expect(await paths(tree(SAMPLE), '/*\n!/deploy/\n!.gitignore\n!.git/\n')).toEqual([
      '.gitignore',
      'deploy/app.yaml',
      'deploy/logo.png',
    ]);
  });

  it('spec.ignore overrides .sourceignore exclusions', async () => {
    const dir = tree({ 'a.yaml': 'a', 'b.yaml': 'b', '.sourceignore': '*.yaml\n' });
    expect(await paths(dir, '!b.yaml\n')).toEqual(['.sourceignore', 'b.yaml']);
  });

  it('an empty spec.ignore keeps the defaults', async () => {
    expect(await paths(tree(SAMPLE), '\n# nothing\n')).toEqual([
      'README.md',
      'deploy/app.yaml',
      'docs/pic.JPG',
    ]);
  });

  it('skips symlinks', async () => {
    const dir = tree({ 'real.yaml': 'r' });
    symlinkSync('/etc/passwd', join(dir, 'passwd'));
    symlinkSync('real.yaml', join(dir, 'link.yaml'));
    expect(await paths(dir)).toEqual(['real.yaml']);
  });
});

describe('packArtifact determinism', () => {
  it('normalises metadata: mtime 0, no owner, 0644/0755', async () => {
    const dir = tree({ 'run.sh': '#!/bin/sh\n', 'conf.yaml': 'c' });
    chmodSync(join(dir, 'run.sh'), 0o775);
    chmodSync(join(dir, 'conf.yaml'), 0o600);
    const { entries } = await pack(dir);
    expect(entries).toEqual([
      { path: 'conf.yaml', mode: 0o644, mtime: 0, uid: 0, gid: 0, uname: '' },
      { path: 'run.sh', mode: 0o755, mtime: 0, uid: 0, gid: 0, uname: '' },
    ]);
  });

  it('same content from two commits and two checkouts gives the same digest; a change gives another', async () => {
    const repo = createRepo({
      files: { 'app.yaml': 'v: 1\n', 'bin/run.sh': { content: 'echo\n', mode: 0o755 } },
    });
    try {
      const first = repo.revParse();
      const second = repo.commit({ 'notes.png': 'excluded by default' }, { message: 'add image' });
      const third = repo.commit({ 'app.yaml': 'v: 2\n' }, { message: 'change' });
      const digests: string[] = [];
      for (const commit of [first, second, third]) {
        const dir = join(work, `co-${n++}`);
        await checkout(repo.url, { commit }, {}, dir, { timeoutMs: 30_000 });
        digests.push((await pack(dir)).digest);
      }
      expect(digests[0]).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(digests[1]).toBe(digests[0]);
      expect(digests[2]).not.toBe(digests[0]);
    } finally {
      rmSync(join(repo.dir, '..'), { recursive: true, force: true });
    }
  });

  it('an executable bit change changes the digest', async () => {
    const a = tree({ 'x.sh': 'echo' });
    const b = tree({ 'x.sh': 'echo' });
    chmodSync(join(b, 'x.sh'), 0o755);
    expect((await pack(a)).digest).not.toBe((await pack(b)).digest);
  });
});
