import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ObjectRef } from '../api/meta.ts';
import { packArtifact } from '../source/artifact/index.ts';
import { eventually } from '../../test/harness/eventually.ts';
import { ReleasePreparations, type PreparationRequest } from './release-preparation.ts';
import { ReleaseStore } from './release-store.ts';

const ref: ObjectRef = { kind: 'App', namespace: 'default', name: 'web' };
let dataDir: string;
let preparations: ReleasePreparations | undefined;

afterEach(async () => {
  await preparations?.cancelAll();
  preparations = undefined;
  await rm(dataDir, { recursive: true, force: true });
});

/** A data dir with one artifact holding `setup.js`, and a request that runs it. */
async function fixture(setup: string, deadlineMs: number): Promise<PreparationRequest> {
  dataDir = await mkdtemp(join(tmpdir(), 'kedge-prep-'));
  const src = join(dataDir, 'src');
  await mkdir(src);
  await writeFile(join(src, 'setup.js'), setup);
  await mkdir(join(dataDir, 'artifacts', 'gitrepository'), { recursive: true });
  await packArtifact(src, join(dataDir, 'artifacts', 'gitrepository', 'web.tar.gz'));
  return {
    namespace: 'default',
    name: 'web',
    artifact: 'gitrepository/web.tar.gz',
    revision: 'main@sha1:0123456789012345678901234567890123456789',
    setup: [process.execPath, 'setup.js'],
    env: { ATTEMPTS: join(dataDir, 'attempts') },
    deadlineMs,
    token: '1/',
  };
}

describe('release preparations', () => {
  it('retries a failed setup with backoff within the deadline, then only when the token changes', async () => {
    const failing =
      "require('node:fs').appendFileSync(process.env.ATTEMPTS, 'x'); console.error('no network'); process.exit(1);";
    // 6 s: the retry 2 s after the first failure falls within it (while that attempt takes under 4 s), the
    // next one, 4 s after the second failure, never does.
    const request = await fixture(failing, 6_000);
    let settled = 0;
    preparations = new ReleasePreparations(new ReleaseStore(dataDir), () => settled++);

    expect(await preparations.ensure(ref, request)).toMatchObject({ phase: 'Running', attempt: 1 });
    await eventually(() => settled === 1, { what: 'first attempt settled' });
    const first = await preparations.ensure(ref, request);
    expect(first).toMatchObject({ phase: 'Failed', attempt: 1 });
    if (first.phase !== 'Failed') throw new Error('unreachable');
    expect(first.error.message).toMatch(/exited with code 1; its output ends with: no network$/);
    expect(first.retryInMs).toBeGreaterThan(0);

    // The second attempt starts once the backoff (2 s) passed; its retry (4 s later) would be past the deadline.
    await eventually(async () => (await preparations!.ensure(ref, request)).phase === 'Running', {
      what: 'second attempt',
    });
    await eventually(() => settled === 2, { what: 'second attempt settled' });
    expect(await preparations.ensure(ref, request)).toMatchObject({
      phase: 'Failed',
      attempt: 2,
      retryInMs: undefined,
    });
    expect(await readFile(join(dataDir, 'attempts'), 'utf8')).toBe('xx');

    // A changed App (new generation or reconcile request) starts over.
    expect(await preparations.ensure(ref, { ...request, token: '2/' })).toMatchObject({
      phase: 'Running',
      attempt: 1,
    });
    await eventually(() => settled === 3, { what: 'third attempt settled' });
    expect(await readFile(join(dataDir, 'attempts'), 'utf8')).toBe('xxx');
  });

  it('reports a release that is ready without starting anything', async () => {
    const request = await fixture("require('node:fs').appendFileSync(process.env.ATTEMPTS, 'x');", 60_000);
    let settled = 0;
    preparations = new ReleasePreparations(new ReleaseStore(dataDir), () => settled++);
    expect(await preparations.ensure(ref, request)).toMatchObject({ phase: 'Running' });
    await eventually(() => settled === 1, { what: 'setup settled' });
    const ready = await preparations.ensure(ref, request);
    expect(ready).toMatchObject({ phase: 'Ready' });
    // A new runtime (an engine restart) finds the release as it is.
    const fresh = new ReleasePreparations(new ReleaseStore(dataDir), () => settled++);
    expect(await fresh.ensure(ref, request)).toMatchObject({ phase: 'Ready' });
    expect(await readFile(join(dataDir, 'attempts'), 'utf8')).toBe('x');
  });
});
