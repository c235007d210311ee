import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkout } from '../src/source/git/index.ts';
import { createRepo, type TestRepo } from './harness/git-repo.ts';

let root: string;
let work: string;
let main: TestRepo;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'kedge-submodules-'));
  work = mkdtempSync(join(tmpdir(), 'kedge-submodules-work-'));
  const lib = createRepo({ root, name: 'lib', files: { 'lib.yaml': 'from the submodule\n' } });
  main = createRepo({ root, name: 'main', files: { 'app.yaml': 'app\n' } });
  main.git('-c', 'protocol.file.allow=always', 'submodule', 'add', '-q', lib.url, 'vendor/lib');
  main.commit({}, { message: 'add submodule' });
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

describe('submodules', () => {
  it('are checked out with recurseSubmodules', async () => {
    const dir = join(work, 'with');
    await checkout(main.url, { branch: 'main' }, {}, dir, { timeoutMs: 30_000, recurseSubmodules: true });
    expect(readFileSync(join(dir, 'vendor/lib/lib.yaml'), 'utf8')).toBe('from the submodule\n');
  });

  it('are left empty without it', async () => {
    const dir = join(work, 'without');
    await checkout(main.url, { branch: 'main' }, {}, dir, { timeoutMs: 30_000 });
    expect(readFileSync(join(dir, 'app.yaml'), 'utf8')).toBe('app\n');
    expect(existsSync(join(dir, 'vendor/lib/lib.yaml'))).toBe(false);
  });
});
