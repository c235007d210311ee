import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import { eventually } from './harness/eventually.ts';
import { createRepo, type TestRepo } from './harness/git-repo.ts';
import { startGitDaemon, type GitServer } from './harness/git-servers.ts';
import { spawnTracked as spawn } from './harness/tracked-process.ts';
import { FREE_PORT_FLAGS, KEDGE_CLI } from './harness/kedge-cli.ts';

const ksRef = { kind: 'Kustomization', namespace: 'default', name: 'app' };

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `kedge up --once` on `dataDir` with free ports and a timeout that holds on a loaded machine (the verdict
 * comes long before it); the child is killed if the test ends first.
 */
function upOnce(dataDir: string, ...args: string[]): Promise<Run> {
  const child = spawn(
    process.execPath,
    [...KEDGE_CLI, '--data-dir', dataDir, 'up', '--once', '--timeout', '5m', ...FREE_PORT_FLAGS, ...args],
    {
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((done) =>
    child.once('close', (code) => {
      children.delete(child);
      done({ code, stdout, stderr });
    }),
  );
}

/**
 * A TCP gate in front of the git daemon: while closed it accepts connections and holds them unanswered (a slow
 * source), counting them; opening it connects every held and later connection through.
 */
class Gate {
  readonly server: Server;
  open = true;
  held: Socket[] = [];
  seen = 0;
  constructor(private readonly upstreamPort: number) {
    this.server = createServer((socket) => {
      this.seen++;
      if (this.open) this.#pipe(socket);
      else this.held.push(socket);
    });
  }
  async listen(): Promise<number> {
    await new Promise<void>((done) => this.server.listen(0, '127.0.0.1', done));
    return (this.server.address() as { port: number }).port;
  }
  close(): void {
    this.open = false;
    this.seen = 0;
  }
  release(): void {
    this.open = true;
    for (const socket of this.held.splice(0)) this.#pipe(socket);
  }
  #pipe(socket: Socket): void {
    const upstream = createConnection(this.upstreamPort, '127.0.0.1');
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  }
}

const children = new Set<ReturnType<typeof spawn>>();

describe('kedge up --once judges the latest revision', () => {
  let work: string;
  let dataDir: string;
  let repo: TestRepo;
  let daemon: GitServer;
  let gate: Gate;
  let manifest: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'kedge-once-'));
    dataDir = join(work, 'data');
    repo = createRepo({
      files: {
        'deploy/cm.yaml':
          'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {greeting: hello}\n',
        'after/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: after}\n',
        'deploy/app.yaml':
          'apiVersion: kedge.dev/v1alpha1\nkind: App\nmetadata: {name: web}\nspec: {replicas: 1, command: [node, -e, "setInterval(() => {}, 1 << 30)"]}\n',
      },
      root: work,
    });
    daemon = await startGitDaemon(work);
    gate = new Gate(Number(new URL(daemon.url(repo.name)).port));
    const port = await gate.listen();
    manifest = join(work, 'app.yaml');
    writeFileSync(
      manifest,
      `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: app, namespace: default}
spec: {interval: 10m, url: "git://127.0.0.1:${port}/${repo.name}", ref: {branch: main}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: app, namespace: default}
spec: {interval: 10m, prune: true, path: ./deploy, sourceRef: {kind: GitRepository, name: app}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: after, namespace: default}
spec: {interval: 10m, prune: true, path: ./after, dependsOn: [{name: app}], sourceRef: {kind: GitRepository, name: app}}
`,
    );
  });
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    gate?.release();
    gate?.server.close();
    for (const socket of gate?.held ?? []) socket.destroy();
    await daemon?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('exits 0 on a good commit, 1 naming the Kustomization and the build error on a broken one, 0 once fixed', async () => {
    const first = await upOnce(dataDir, '-f', manifest);
    expect(first.stdout).toContain(
      `✔ kustomization default/app: Applied revision: main@sha1:${repo.revParse()}`,
    );
    expect(first.stdout).toMatch(/✔ app default\/web: /);
    expect(first.code).toBe(0);

    // A broken commit, and a slow source: the engine first reconciles the Kustomization at the artifact it
    // already has (Ready from the previous run) while the fetch of the new commit hangs.
    const broken = repo.commit(
      { 'deploy/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [unclosed\n' },
      { message: 'broken' },
    );
    gate.close();
    const token = await requestReconcile(dataDir);
    const second = upOnce(dataDir);
    const early = second.then((r) =>
      Promise.reject(
        new Error(`kedge up --once exited ${r.code} before the source was fetched:\n${r.stdout}`),
      ),
    );
    await Promise.race([
      early,
      (async () => {
        await eventually(() => gate.seen > 0, { what: 'the engine fetching the source', timeoutMs: 180_000 });
        await eventually(() => handled(dataDir, token), {
          what: 'the Kustomization reconciled at the old artifact',
          timeoutMs: 180_000,
          intervalMs: 200,
        });
      })(),
    ]);
    early.catch(() => undefined);
    gate.release();
    const run = await second;
    expect(run.stdout).toContain(
      `✔ source git default/app: stored artifact for revision 'main@sha1:${broken}'`,
    );
    expect(run.stdout).toMatch(/✗ kustomization default\/app: .*deploy\/cm\.yaml/);
    // Its dependent waits on it: judged failed with it rather than waiting for --timeout.
    expect(run.stdout).toContain(
      '✗ kustomization default/after: its dependency kustomization default/app failed',
    );
    expect(run.code).toBe(1);

    const fixed = repo.commit(
      {
        'deploy/cm.yaml':
          'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {greeting: bonjour}\n',
      },
      { message: 'fixed' },
    );
    const third = await upOnce(dataDir);
    expect(third.stdout).toContain(`✔ kustomization default/app: Applied revision: main@sha1:${fixed}`);
    expect(third.stdout).toMatch(/✔ app default\/web: /);
    expect(third.stdout).toContain(`✔ kustomization default/after: Applied revision: main@sha1:${fixed}`);
    expect(third.code).toBe(0);
    // The App was judged at the release of the fixed commit, not at the one the previous run left running.
    expect(await appRevisions(dataDir)).toEqual({
      annotated: `main@sha1:${fixed}`,
      current: `main@sha1:${fixed}`,
    });
  }, 900_000);
});

/** Sets `reconcile.fluxcd.io/requestedAt` on the Kustomization in the data dir's store; returns the token. */
async function requestReconcile(dataDir: string): Promise<string> {
  const store = await openSqliteStore(dataDir);
  try {
    const token = `${Date.now()}`;
    const object = (await store.get(ksRef))!;
    object.metadata.annotations = {
      ...object.metadata.annotations,
      'reconcile.fluxcd.io/requestedAt': token,
    };
    await store.update(object);
    return token;
  } finally {
    await store.close();
  }
}

/** True once the Kustomization's status says request `token` was handled. */
async function handled(dataDir: string, token: string): Promise<boolean> {
  const store = await openSqliteStore(dataDir);
  try {
    return (
      ((await store.get(ksRef))?.status as { lastHandledReconcileAt?: string } | undefined)
        ?.lastHandledReconcileAt === token
    );
  } finally {
    await store.close();
  }
}

/** The App's release revision (annotation) and the revision its status says it runs. */
async function appRevisions(dataDir: string): Promise<{ annotated?: string; current?: string }> {
  const store = await openSqliteStore(dataDir);
  try {
    const app = await store.get({ kind: 'App', namespace: 'default', name: 'web' });
    return {
      annotated: app?.metadata.annotations?.['kedge.dev/source-revision'],
      current: (app?.status as { currentRevision?: string } | undefined)?.currentRevision,
    };
  } finally {
    await store.close();
  }
}
