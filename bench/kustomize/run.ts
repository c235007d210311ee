/**
 * Kustomization benchmark: N Kustomizations × 10 objects from one repository against a local control plane,
 * with `kubectl apply --server-side` of the same objects in the same run as the floor. Prints a markdown
 * table on stdout, progress on stderr. Usage: node --import tsx bench/kustomize/run.ts [--n 100] [--idle 60]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import type { Condition } from '../../src/api/meta.ts';
import { startDevCluster } from '../../src/devcluster/dev-cluster.ts';
import { startEngine } from '../../src/engine.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { createRepo } from '../../test/harness/git-repo.ts';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const N = Number(arg('--n', '100'));
const IDLE_S = Number(arg('--idle', '60'));
const say = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

/** `apiserver_request_total` summed per `verb resource[/subresource]`. */
function apiRequestCounts(kubeconfig: string): Map<string, number> {
  const text = execFileSync('kubectl', ['--kubeconfig', kubeconfig, 'get', '--raw', '/metrics'], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  const counts = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const label = (name: string) => new RegExp(`[{,]${name}="([^"]*)"`).exec(line)?.[1] ?? '';
    const sub = label('subresource');
    const key = `${label('verb')} ${label('resource')}${sub ? `/${sub}` : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return counts;
}
const apiRequests = (kubeconfig: string): number =>
  [...apiRequestCounts(kubeconfig).values()].reduce((a, b) => a + b, 0);

/** Requests per minute over `seconds`, total and the largest `verb resource` groups (the metrics read excluded). */
async function requestRate(kubeconfig: string, seconds: number): Promise<{ perMin: number; top: string }> {
  const before = apiRequestCounts(kubeconfig);
  await sleep(seconds * 1000);
  const after = apiRequestCounts(kubeconfig);
  after.set('GET ', (after.get('GET ') ?? 0) - 1);
  const diff = [...after]
    .map(([key, n]) => [key, n - (before.get(key) ?? 0)] as const)
    .filter(([, n]) => n > 0);
  const perMin = (diff.reduce((a, [, n]) => a + n, 0) * 60) / seconds;
  diff.sort((a, b) => b[1] - a[1]);
  const top = diff
    .slice(0, 6)
    .map(([key, n]) => `${key} ${((n * 60) / seconds).toFixed(1)}`)
    .join(', ');
  return { perMin, top };
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const loadAtStart = load();
const work = mkdtempSync(join(tmpdir(), 'kedge-bench-ks-'));
const cluster = await startDevCluster({ onProgress: say });
const rows: string[][] = [];
const notes: string[] = [];
try {
  const kubeconfig = cluster.kubeconfigPath;
  const kubectl = (...args: string[]) =>
    execFileSync('kubectl', ['--kubeconfig', kubeconfig, ...args], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
  const repo = createRepo({ root: join(work, 'repos'), files: objectsYaml('${ns}') });

  // Floor: the same N × 10 objects in one kubectl server-side apply (other namespace names).
  const floorFile = join(work, 'floor.yaml');
  const one = Object.values(objectsYaml('NS')).join('---\n');
  writeFileSync(
    floorFile,
    Array.from({ length: N }, (_, i) => one.replaceAll('NS', `floor-${i}`)).join('---\n'),
  );
  let before = apiRequests(kubeconfig);
  let start = Date.now();
  kubectl('apply', '--server-side', '--field-manager', 'bench', '-f', floorFile);
  const floorMs = Date.now() - start;
  const floorRequests = apiRequests(kubeconfig) - before - 1;
  say(`kubectl apply --server-side: ${floorMs} ms, ${floorRequests} requests`);

  const engine = await startEngine({
    dataDir: join(work, 'data'),
    storageAddress: { host: '127.0.0.1', port: 0 },
    metricsAddress: { host: '127.0.0.1', port: 0 },
    receiverAddress: { host: '127.0.0.1', port: 0 },
    kubeconfig,
    log: createLogger({ level: 'silent', format: 'json' }),
  });
  try {
    before = apiRequests(kubeconfig);
    start = Date.now();
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
    for (;;) {
      const all = await engine.store.list('Kustomization');
      const ready = all.filter((o) =>
        ((o.status as { conditions?: Condition[] } | undefined)?.conditions ?? []).some(
          (c) => c.type === 'Ready' && c.status === 'True' && c.observedGeneration === o.metadata.generation,
        ),
      );
      if (ready.length === N) break;
      await sleep(200);
    }
    const readyMs = Date.now() - start;
    const syncRequests = apiRequests(kubeconfig) - before - 1;
    const peakRssMb = process.resourceUsage().maxRSS / 1024;
    say(`all ${N} Ready in ${readyMs} ms, ${syncRequests} requests, peak RSS ${peakRssMb.toFixed(0)} MiB`);

    // One drift: another manager forces a new value into a managed field; time until it is undone. Timed by a
    // client-node watch on the ConfigMap (in this process): from the event carrying the edit to the event
    // carrying the restored value, so the figure is Kedge's reaction, not a kubectl probe's process start.
    const seen: { value: string; at: number }[] = [];
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    const probe = await new Watch(kc).watch(
      '/api/v1/namespaces/bench-0/configmaps',
      { fieldSelector: 'metadata.name=cm-1' },
      (_phase, obj: { data?: Record<string, string> }) =>
        seen.push({ value: obj.data?.index ?? '', at: Date.now() }),
      () => undefined,
    );
    const patch = JSON.stringify({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'cm-1', namespace: 'bench-0' },
      data: { index: 'hacked' },
    });
    const patchFile = join(work, 'drift.json');
    writeFileSync(patchFile, patch);
    kubectl('apply', '--server-side', '--force-conflicts', '--field-manager', 'intruder', '-f', patchFile);
    const returned = Date.now();
    const restoredAfter = (): { edit: number; restored: number } | undefined => {
      const edit = seen.findIndex((e) => e.value === 'hacked');
      const restored = edit < 0 ? undefined : seen.slice(edit + 1).find((e) => e.value === '1');
      return restored ? { edit: seen[edit]!.at, restored: restored.at } : undefined;
    };
    const deadline = Date.now() + 120_000;
    while (!restoredAfter() && Date.now() < deadline) await sleep(5);
    probe.abort();
    const times = restoredAfter();
    if (!times)
      throw new Error(
        `drift on configmap bench-0/cm-1 not undone within 120 s (watch saw: ${seen.map((e) => e.value).join(', ')})`,
      );
    const driftMs = times.restored - times.edit;
    const driftFromReturnMs = times.restored - returned;
    say(
      `drift undone ${driftMs} ms after the edit's watch event (${driftFromReturnMs} ms after kubectl returned)`,
    );

    await sleep(5000);
    const inSync = await requestRate(kubeconfig, IDLE_S);
    say(`in sync: ${inSync.perMin.toFixed(1)} requests/min (${inSync.top})`);
    notes.push(`in sync, per minute by verb and resource: ${inSync.top}`);

    rows.push(
      [
        'all N Ready (Kedge)',
        `${(readyMs / 1000).toFixed(1)} s`,
        String(syncRequests),
        `${peakRssMb.toFixed(0)} MiB (whole process)`,
      ],
      [
        'floor: one `kubectl apply --server-side`',
        `${(floorMs / 1000).toFixed(1)} s`,
        String(floorRequests),
        '–',
      ],
      [
        'undo one drift (edit event → restored event)',
        `${driftMs} ms (${driftFromReturnMs} ms after kubectl returned)`,
        '–',
        '–',
      ],
      [`in sync, ${IDLE_S} s window`, '–', `${inSync.perMin.toFixed(1)} / min`, '–'],
    );
  } finally {
    await engine.stop();
  }
  // Baseline for the in-sync rate: the same control plane and objects, engine stopped.
  await sleep(5000);
  const empty = await requestRate(kubeconfig, IDLE_S);
  say(`engine stopped: ${empty.perMin.toFixed(1)} requests/min (${empty.top})`);
  rows.push([
    `engine stopped (control plane alone), ${IDLE_S} s window`,
    '–',
    `${empty.perMin.toFixed(1)} / min`,
    '–',
  ]);
  notes.push(`engine stopped, per minute by verb and resource: ${empty.top}`);
} finally {
  await cluster.stop();
  rmSync(work, { recursive: true, force: true });
}
process.stdout.write(
  `N = ${N} Kustomizations × 10 objects (1 Namespace + 9 ConfigMaps), ${cpus().length} CPUs, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, load average (1/5/15 min) ${loadAtStart} at start, ${load()} at end\n\n`,
);
process.stdout.write('| Figure | Time | API requests | Memory |\n|---|---|---|---|\n');
for (const row of rows) process.stdout.write(`| ${row.join(' | ')} |\n`);
process.stdout.write(`\n${notes.map((n) => `- ${n}`).join('\n')}\n`);
