import type { ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  watch,
  writeFileSync,
  type FSWatcher,
} from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Condition } from '../src/api/meta.ts';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import { eventually } from './harness/eventually.ts';
import { createRepo } from './harness/git-repo.ts';
import { startKedgeUp } from './harness/kedge-cli.ts';

/** A real `kedge up` on `dataDir` whose OS temp dir is `tmp` (TMPDIR), so anything it puts there is seen. */
const startEngine = (dataDir: string, tmp: string, ...args: string[]) =>
  startKedgeUp(dataDir, args, { TMPDIR: tmp });

const exited = (child: ChildProcess) =>
  new Promise<number | null>((done) =>
    child.exitCode !== null || child.signalCode !== null
      ? done(child.exitCode)
      : child.once('exit', (code) => done(code)),
  );

describe('engine scratch space', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('works in <data-dir>/tmp, never in the OS temp dir; a SIGKILLed engine leaves its scratch dirs there and the next start removes them', async () => {
    const work = mkdtempSync(join(tmpdir(), 'kedge-scratch-'));
    cleanups.push(() => rmSync(work, { recursive: true, force: true }));
    const dataDir = join(work, 'data');
    const scratch = join(dataDir, 'tmp');
    const osTmp = join(work, 'os-tmp');
    mkdirSync(osTmp);
    // Every entry the engine creates in its OS temp dir (tsx keeps its cache there too; that is not ours).
    const created: string[] = [];
    const watcher: FSWatcher = watch(osTmp, (_event, name) => name && created.push(name));
    cleanups.push(() => watcher.close());

    // A git server that accepts connections and never answers: a reconcile of `stalled` hangs mid-way.
    const sockets = new Set<Socket>();
    const silent: Server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((done) => silent.listen(0, '127.0.0.1', done));
    cleanups.push(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((done) => silent.close(done));
    });
    const silentPort = (silent.address() as { port: number }).port;

    const repo = createRepo({
      root: work,
      files: {
        'deploy/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {k: v}\n',
      },
    });
    const manifests = join(work, 'manifests.yaml');
    writeFileSync(
      manifests,
      [
        `apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: good}\nspec: {interval: 10m, url: "${repo.url}", ref: {branch: main}}`,
        `apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: app}\nspec: {interval: 10m, path: ./deploy, prune: true, sourceRef: {kind: GitRepository, name: good}}`,
        `apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: stalled}\nspec: {interval: 10m, timeout: 10m, url: "http://127.0.0.1:${silentPort}/repo.git", ref: {branch: main}}`,
      ].join('\n---\n'),
    );
    // What an engine killed while extracting an artifact leaves behind.
    mkdirSync(join(scratch, 'kedge-artifact-planted'), { recursive: true });
    writeFileSync(join(scratch, 'kedge-artifact-planted', 'big.yaml'), 'x'.repeat(1 << 20));

    const first = startEngine(dataDir, osTmp, '-f', manifests);
    cleanups.push(async () => {
      first.kill('SIGKILL');
      await exited(first);
    });
    await eventually(() => !existsSync(join(scratch, 'kedge-artifact-planted')), {
      what: 'the planted leftover removed at start',
      timeoutMs: 60_000,
    });
    const store = await openSqliteStore(dataDir);
    cleanups.push(() => store.close());
    await eventually(
      async () => {
        const ks = await store.get({ kind: 'Kustomization', namespace: 'default', name: 'app' });
        const ready = (ks?.status as { conditions?: Condition[] } | undefined)?.conditions?.find(
          (c) => c.type === 'Ready',
        );
        return ready?.status === 'True';
      },
      { what: 'Kustomization app Ready (checked out, extracted, rendered, applied)', timeoutMs: 60_000 },
    );
    expect(await store.get({ kind: 'ConfigMap', namespace: 'default', name: 'settings' })).toBeDefined();
    // Mid-reconcile: the stalled fetch's scratch dir (its throwaway git home) is under the data dir.
    const midway = await eventually(
      () => {
        const names = readdirSync(scratch).filter((name) => name.startsWith('kedge-'));
        return names.length > 0 ? names : undefined;
      },
      { what: 'the stalled reconcile scratch dir in <data-dir>/tmp', timeoutMs: 30_000 },
    );
    expect(created.filter((name) => name.startsWith('kedge-'))).toEqual([]);

    first.kill('SIGKILL');
    await exited(first);
    for (const name of midway)
      expect(existsSync(join(scratch, name)), `${name} left by the crash`).toBe(true);

    const second = startEngine(dataDir, osTmp);
    cleanups.push(async () => {
      second.kill('SIGKILL');
      await exited(second);
    });
    await eventually(() => midway.every((name) => !existsSync(join(scratch, name))), {
      what: 'the crash leftovers removed at the next start',
      timeoutMs: 60_000,
    });
    await eventually(() => second.output().includes('kedge is running'), {
      what: 'second engine running',
      timeoutMs: 60_000,
    });
    for (const socket of sockets) socket.destroy();
    second.kill('SIGTERM');
    expect(await exited(second)).toBe(0);
    expect(second.output()).toMatch(/removed \d+ leftover scratch dir/);
    expect(created.filter((name) => name.startsWith('kedge-'))).toEqual([]);
  }, 240_000);
});
