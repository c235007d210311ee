import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArtifactPathError, ArtifactStorage } from '../src/source/artifact/index.ts';

let root: string;
let storage: ArtifactStorage;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'kedge-storage-'));
  storage = new ArtifactStorage(join(root, 'artifacts'), 'http://127.0.0.1:9090/');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function source(files: Record<string, string>): string {
  const dir = mkdtempSync(join(root, 'src-'));
  for (const [path, content] of Object.entries(files)) writeFileSync(join(dir, path), content);
  return dir;
}

describe('ArtifactStorage', () => {
  it('archives a checkout to the Flux layout and builds the status artifact', async () => {
    const commit = 'a'.repeat(40);
    const artifact = await storage.archive(
      'GitRepository',
      'flux-system',
      'podinfo',
      `main@sha1:${commit}`,
      source({ 'a.yaml': 'a' }),
    );
    expect(artifact).toMatchObject({
      revision: `main@sha1:${commit}`,
      path: `gitrepository/flux-system/podinfo/${commit}.tar.gz`,
      url: `http://127.0.0.1:9090/gitrepository/flux-system/podinfo/${commit}.tar.gz`,
    });
    expect(artifact.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(artifact.size).toBeGreaterThan(0);
    expect(artifact.lastUpdateTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(await storage.exists(artifact)).toBe(true);
    expect(await storage.exists({ path: 'gitrepository/flux-system/podinfo/other.tar.gz' })).toBe(false);
  });

  it.each([
    ['..', 'name'],
    ['ns', '..'],
    ['ns', 'a/b'],
    ['ns', '.'],
    ['', 'name'],
  ])('rejects path components %s/%s', (namespace, name) => {
    expect(() => storage.relativePath('GitRepository', namespace, name, 'x.tar.gz')).toThrow(
      ArtifactPathError,
    );
  });

  it('refuses relative paths that leave the root', () => {
    expect(() => storage.localPath('../outside')).toThrow(ArtifactPathError);
    expect(() => storage.localPath('gitrepository/../../outside')).toThrow(ArtifactPathError);
    expect(storage.localPath('gitrepository/ns/n/f.tar.gz')).toBe(
      join(root, 'artifacts/gitrepository/ns/n/f.tar.gz'),
    );
  });

  it('garbage collection keeps the current artifact and the newest N others', async () => {
    const dir = join(root, 'artifacts/gitrepository/ns/app');
    mkdirSync(dir, { recursive: true });
    const names = ['1.tar.gz', '2.tar.gz', '3.tar.gz', '4.tar.gz', '5.tar.gz'];
    names.forEach((name, i) => {
      writeFileSync(join(dir, name), name);
      utimesSync(join(dir, name), 1_000 + i, 1_000 + i);
    });
    writeFileSync(join(dir, '.6.tar.gz.abc.tmp'), 'in flight');
    const deleted = await storage.garbageCollect(
      'GitRepository',
      'ns',
      'app',
      ['gitrepository/ns/app/1.tar.gz'],
      2,
    );
    expect(deleted.sort()).toEqual(['gitrepository/ns/app/2.tar.gz', 'gitrepository/ns/app/3.tar.gz']);
    for (const kept of ['1.tar.gz', '4.tar.gz', '5.tar.gz', '.6.tar.gz.abc.tmp'])
      expect(existsSync(join(dir, kept))).toBe(true);
    expect(await storage.garbageCollect('GitRepository', 'ns', 'missing', [], 0)).toEqual([]);
  });

  it('removeAll deletes only that object’s artifacts', async () => {
    await storage.archive('GitRepository', 'ns', 'a', 'sha1:' + '1'.repeat(40), source({ x: 'x' }));
    const other = await storage.archive(
      'GitRepository',
      'ns',
      'b',
      'sha1:' + '2'.repeat(40),
      source({ y: 'y' }),
    );
    await storage.removeAll('GitRepository', 'ns', 'a');
    expect(existsSync(join(root, 'artifacts/gitrepository/ns/a'))).toBe(false);
    expect(await storage.exists(other)).toBe(true);
  });
});
