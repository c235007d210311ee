/**
 * Drift undo and API request bench: N Kustomizations × 10 objects (1 Namespace + 9 ConfigMaps) from one
 * repository against a local control plane (`startDevCluster`), the engine in this process as `kedge up` runs
 * it. Measures, in one run:
 *   - API requests (apiserver `apiserver_request_total` delta) of the first apply, next to one bulk
 *     `kubectl apply --server-side` of the same N × 10 objects (other namespace names) — the baseline;
 *   - API requests of one in-sync reconcile of every Kustomization (unchanged revision, requested at once);
 *   - drift undo latency (edit's watch event → restored watch event, timed by a watch in this process) for
 *     `--drifts` edits right after convergence, alternately a merge-patch edit (kubectl edit) and a forced
 *     server-side apply by another manager, then again while every Kustomization reconciles.
 * Markdown on stdout, progress on stderr. Usage: node --import tsx bench/drift/run.ts [--n 100] [--drifts 40]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import type { Condition } from '../../src/api/meta.ts';
import { KubeTarget } from '../../src/apply/kube-client.ts';
import { startDevCluster } from '../../src/devcluster/dev-cluster.ts';
import { startEngine } from '../../src/engine.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { createRepo } from '../../test/harness/git-repo.ts';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const N = Number(arg('--n', '100'));
const DRIFTS = Number(arg('--drifts', '40'));
const say = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

const objectsYaml = (ns: string): Record<string, string> => {
  const files: Record<string, string> = {
    'deploy/ns.yaml': `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${ns}\n`,
  };
  for (let i = 1; i <= 9; i++) {
    files[`deploy/cm-${i}.yaml`] =
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-${i}\n  namespace: ${ns}\ndata:\n  index: "${i}"\n  text: "${'x'.repeat(200)}"\n`;
  }
  return files;
};

/** `apiserver_request_total` per `verb resource`. */
function apiRequestCounts(kubeconfig: string): Map<string, number> {
  const text = execFileSync('kubectl', ['--kubeconfig', kubeconfig, 'get', '--raw', '/metrics'], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  const counts = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const label = (name: string) => new RegExp(`[{,]${name}="([^"]*)"`).exec(line)?.[1] ?? '';
    const key = `${label('verb')} ${label('resource')}`;
    counts.set(key, (counts.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return counts;
}

/**
 * Requests between two readings on the resources the clients here touch — namespaces, configmaps and discovery
 * (no resource) — the second reading's own GET excluded. The control plane's own traffic (leases, endpoints,
 * its controllers) is left out: it grows with the window, not with the client.
 */
function delta(before: Map<string, number>, after: Map<string, number>): { total: number; top: string } {
  after.set('GET ', (after.get('GET ') ?? 0) - 1);
  const client = (key: string): boolean =>
    ['', 'namespaces', 'configmaps'].includes(key.slice(key.indexOf(' ') + 1));
  const diff = [...after]
    .filter(([k]) => client(k))
    .map(([k, n]) => [k, n - (before.get(k) ?? 0)] as const)
    .filter(([, n]) => n > 0);
  diff.sort((a, b) => b[1] - a[1]);
  return {
    total: diff.reduce((a, [, n]) => a + n, 0),
    top: diff
      .slice(0, 6)
      .map(([k, n]) => `${k.trim()} ${n}`)
      .join(', '),
  };
}

const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

const loadAtStart = load();
const work = mkdtempSync(join(tmpdir(), 'kedge-bench-drift-'));
const cluster = await startDevCluster({ onProgress: say });
const out: string[] = [];
try {
  const kubeconfig = cluster.kubeconfigPath;
  const kubectl = (...args: string[]) =>
    execFileSync('kubectl', ['--kubeconfig', kubeconfig, ...args], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
  const repo = createRepo({ root: join(work, 'repos'), files: objectsYaml('${ns}') });

  // Baseline: the same N × 10 objects in one bulk server-side apply.
  const floorFile = join(work, 'floor.yaml');
  const one = Object.values(objectsYaml('NS')).join('---\n');
  writeFileSync(
    floorFile,
    Array.from({ length: N }, (_, i) => one.replaceAll('NS', `floor-${i}`)).join('---\n'),
  );
  let before = apiRequestCounts(kubeconfig);
  kubectl('apply', '--server-side', '--field-manager', 'bench', '-f', floorFile);
  const floor = delta(before, apiRequestCounts(kubeconfig));
  say(`bulk SSA: ${floor.total} requests (${floor.top})`);

  const engine = await startEngine({
    dataDir: join(work, 'data'),
    storageAddress: { host: '127.0.0.1', port: 0 },
    metricsAddress: { host: '127.0.0.1', port: 0 },
    receiverAddress: { host: '127.0.0.1', port: 0 },
    kubeconfig,
    log: createLogger({ level: 'silent', format: 'json' }),
  });
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const client = new KubeTarget(kc);
  try {
    const readyAll = async (handledAt?: string) => {
      for (;;) {
        const all = await engine.store.list('Kustomization');
        const done = all.filter((o) => {
          const status = (o.status ?? {}) as { conditions?: Condition[]; lastHandledReconcileAt?: string };
          const ready = (status.conditions ?? []).some(
            (c) =>
              c.type === 'Ready' && c.status === 'True' && c.observedGeneration === o.metadata.generation,
          );
          return ready && (handledAt === undefined || status.lastHandledReconcileAt === handledAt);
        });
        if (done.length === N) return;
        await sleep(200);
      }
    };
    before = apiRequestCounts(kubeconfig);
    let start = Date.now();
    await engine.store.apply({
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'GitRepository',
      metadata: { name: 'bench', namespace: 'default' },
      spec: { interval: '10m', url: repo.url, ref: { branch: 'main' } },
    });
    for (let i = 0; i < N; i++) {
      await engine.store.apply({
        apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
        kind: 'Kustomization',
        metadata: { name: `ks-${i}`, namespace: 'default' },
        spec: {
          interval: '10m',
          path: './deploy',
          prune: true,
          sourceRef: { kind: 'GitRepository', name: 'bench' },
          postBuild: { substitute: { ns: `bench-${i}` } },
        },
      });
    }
    await readyAll();
    const first = delta(before, apiRequestCounts(kubeconfig));
    say(`first apply: all ${N} Ready in ${Date.now() - start} ms, ${first.total} requests (${first.top})`);

    // One in-sync reconcile of every Kustomization, requested at once (as an interval reconcile).
    const requestAll = async (at: string) => {
      for (let i = 0; i < N; i++) {
        const k = (await engine.store.get({ kind: 'Kustomization', namespace: 'default', name: `ks-${i}` }))!;
        k.metadata.annotations = { ...k.metadata.annotations, 'reconcile.fluxcd.io/requestedAt': at };
        await engine.store.update(k);
      }
    };
    await sleep(2000);
    before = apiRequestCounts(kubeconfig);
    start = Date.now();
    await requestAll('in-sync-1');
    await readyAll('in-sync-1');
    const inSync = delta(before, apiRequestCounts(kubeconfig));
    say(
      `in-sync reconcile of all: ${Date.now() - start} ms, ${inSync.total} requests (${inSync.top || 'none'})`,
    );

    // Drift undo: one watch in this process on every bench ConfigMap cm-1, timing edit event → restored event.
    const events: { key: string; index: string; at: number }[] = [];
    const probe = await new Watch(kc).watch(
      '/api/v1/configmaps',
      { fieldSelector: 'metadata.name=cm-1' },
      (_t: string, obj: { metadata: { namespace: string }; data?: Record<string, string> }) =>
        events.push({ key: obj.metadata.namespace, index: obj.data?.index ?? '', at: Date.now() }),
      () => undefined,
    );
    /** Milliseconds from the edit's response to the watch event carrying the restored value (an upper bound: the
     * probe's events share this process's event loop with the engine, so event-to-event times can read 0). */
    const drift = async (i: number, how: 'edit' | 'force-apply'): Promise<number> => {
      const ns = `bench-${i}`;
      const path = `/api/v1/namespaces/${ns}/configmaps/cm-1`;
      const mark = events.length;
      if (how === 'edit')
        await client.rest.request('PATCH', path, {
          body: { data: { index: 'hacked' } },
          contentType: 'application/merge-patch+json',
          query: { fieldManager: 'kubectl-edit' },
        });
      else
        await client.rest.request('PATCH', path, {
          body: {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: 'cm-1', namespace: ns },
            data: { index: 'hacked' },
          },
          contentType: 'application/apply-patch+yaml',
          query: { fieldManager: 'intruder', force: 'true' },
        });
      const editedAt = Date.now();
      const deadline = Date.now() + 60_000;
      for (;;) {
        const mine = events.slice(mark).filter((e) => e.key === ns);
        const edited = mine.findIndex((e) => e.index === 'hacked');
        const restored = edited < 0 ? undefined : mine.slice(edited + 1).find((e) => e.index === '1');
        if (restored) return restored.at - editedAt;
        if (Date.now() > deadline) throw new Error(`drift on ${ns}/cm-1 (${how}) not undone within 60 s`);
        await sleep(2);
      }
    };
    const series = async (label: string): Promise<void> => {
      const times: number[] = [];
      const loadBefore = load();
      for (let d = 0; d < DRIFTS; d++) {
        times.push(await drift(Math.floor(Math.random() * N), d % 2 === 0 ? 'edit' : 'force-apply'));
        await sleep(100);
      }
      times.sort((a, b) => a - b);
      const row = `| ${label} | ${DRIFTS} | ${percentile(times, 50)} | ${percentile(times, 95)} | ${percentile(times, 99)} | ${times.at(-1)} | ${loadBefore} → ${load()} |`;
      say(row);
      out.push(row);
    };
    out.push(
      '| Drift undo (edit response → restored watch event) | drifts | p50 ms | p95 ms | p99 ms | max ms | load average (1/5/15) |',
      '|---|---|---|---|---|---|---|',
    );
    await series('right after convergence');
    // While every Kustomization reconciles (requested at once, as when all intervals fall due together).
    const reconciling = requestAll('under-load');
    await series('while all N reconcile');
    await reconciling;
    probe.abort();
    out.push(
      '',
      '| API requests | requests | per object | vs bulk SSA |',
      '|---|---|---|---|',
      `| bulk \`kubectl apply --server-side\` (baseline) | ${floor.total} | ${(floor.total / (N * 10)).toFixed(2)} | 1.00× |`,
      `| Kedge first apply, converge to all Ready | ${first.total} | ${(first.total / (N * 10)).toFixed(2)} | ${(first.total / floor.total).toFixed(2)}× |`,
      `| Kedge in-sync reconcile of every Kustomization | ${inSync.total} | ${(inSync.total / (N * 10)).toFixed(3)} | – |`,
      '',
      `- bulk SSA by verb/resource: ${floor.top}`,
      `- first apply by verb/resource: ${first.top}`,
      `- in-sync reconcile by verb/resource: ${inSync.top || 'none'}`,
    );
  } finally {
    client.close();
    await engine.stop();
  }
} finally {
  await cluster.stop();
  rmSync(work, { recursive: true, force: true });
}
process.stdout.write(
  `N = ${N} Kustomizations × 10 objects, ${cpus().length} CPUs, load average ${loadAtStart} at start, ${load()} at end\n\n${out.join('\n')}\n`,
);
