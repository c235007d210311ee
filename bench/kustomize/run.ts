/**
 * Kustomization benchmark: N Kustomizations × 10 objects from one Git repository served over smart HTTP,
 * applied by `kedge up` (the compiled CLI, as users run it) to a fresh local kube-apiserver, and with
 * `--compare flux` by Flux's source-controller + kustomize-controller on another fresh one, in the same run.
 * Prints a markdown table on stdout, progress on stderr. See README.md beside this file.
 *
 *   node --import tsx bench/kustomize/run.ts [--n 100] [--compare flux|store] [--workload configmaps|app]
 *     [--layout paths|substitute] [--wait true|false] [--idle 60] [--drift-timeout 60] [--no-floor] [--no-kedge]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clusterLayout } from '../../src/devcluster/cluster-layout.ts';
import { startDevCluster } from '../../src/devcluster/dev-cluster.ts';
import { createRepo } from '../../test/harness/git-repo.ts';
import { ApiServer, requestDelta, topGroups, type Snapshot } from './api-server.ts';
import { startGitHttpServer } from '../lib/git-servers.ts';
import { peakRss, treeCpuSeconds, treeRss } from './process-tree.ts';
import { prepareFluxCluster, startFlux, startKedge, type Tool } from './tools.ts';
import {
  appFiles,
  driftTarget,
  manifests,
  repositoryFiles,
  type Layout,
  type Workload,
  type WorkloadOptions,
} from './workload.ts';

const argv = process.argv.slice(2);
const arg = (name: string, fallback: string): string => {
  const i = argv.indexOf(name);
  return i >= 0 ? (argv[i + 1] ?? fallback) : fallback;
};
const N = Number(arg('--n', '100'));
const COMPARE = arg('--compare', '');
const WORKLOAD = arg('--workload', 'configmaps') as Workload;
const LAYOUT = arg('--layout', 'paths') as Layout;
const WAIT = arg('--wait', 'true') === 'true';
const INTERVAL = arg('--interval', '10m');
const IDLE_S = Number(arg('--idle', '60'));
const DRIFT_TIMEOUT_S = Number(arg('--drift-timeout', '60'));
const CONCURRENCY = Number(arg('--concurrency', '4'));
const READY_TIMEOUT_S = Number(arg('--timeout', '3600'));
const FLOOR = !argv.includes('--no-floor');
const KEEP = argv.includes('--keep');
/** With --compare flux: measure Flux alone (e.g. to repeat its side only). */
const SKIP_KEDGE = argv.includes('--no-kedge');
if (!['', 'flux', 'store'].includes(COMPARE))
  throw new Error(
    `--compare: 'flux' (Flux's controllers) or 'store' (Kedge's Kubernetes store), not '${COMPARE}'`,
  );
if (!['configmaps', 'app'].includes(WORKLOAD))
  throw new Error(`--workload: configmaps or app, not '${WORKLOAD}'`);
if (!['paths', 'substitute'].includes(LAYOUT))
  throw new Error(`--layout: paths or substitute, not '${LAYOUT}'`);
const intervalMinutes = Number(/^(\d+)m$/.exec(INTERVAL)?.[1] ?? NaN);
if (!(intervalMinutes > 0)) throw new Error(`--interval: whole minutes like 10m, not '${INTERVAL}'`);

const KEDGE_BIN = fileURLToPath(new URL('../../bin/kedge.js', import.meta.url));
const say = (line: string) =>
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/** A control plane for one tool: etcd + kube-apiserver (configmaps), or with simulated nodes (app, issue 12). */
interface Cluster {
  kubeconfigPath: string;
  stop(): Promise<void>;
}

/** `kedge dev cluster up --nodes` exists in this checkout (issue 12: controller-manager, scheduler, kwok). */
function devClusterHasNodes(): boolean {
  const help = execFileSync(process.execPath, [KEDGE_BIN, 'dev', 'cluster', 'up', '--help'], {
    encoding: 'utf8',
  });
  return help.includes('--nodes');
}

async function startCluster(work: string, name: string): Promise<Cluster> {
  if (WORKLOAD === 'configmaps') {
    const cluster = await startDevCluster({ onProgress: say });
    return { kubeconfigPath: cluster.kubeconfigPath, stop: () => cluster.stop() };
  }
  // Deployments need a controller-manager, a scheduler and nodes: the dev cluster with one simulated node.
  const dir = join(work, `cluster-${name}`);
  mkdirSync(dir, { recursive: true });
  const kedge = (...args: string[]) =>
    execFileSync(process.execPath, [KEDGE_BIN, 'dev', 'cluster', ...args, '--dir', dir], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  try {
    kedge('up', '--nodes', '1');
  } catch (error) {
    kedge('down');
    throw error;
  }
  return { kubeconfigPath: clusterLayout(dir).kubeconfig, stop: () => Promise.resolve(void kedge('down')) };
}

/** What the bench records for one tool. */
interface Figures {
  readyzMs: number;
  allReadyMs: number;
  convergeRequests: { total: number; groups: [string, number][] };
  convergeCpu: number;
  meanReconcile: number | undefined;
  driftMs: number | undefined;
  idleRequestsPerMin: number;
  idleGroups: [string, number][];
  idleCpuPerMin: number;
  roundMs: number;
  roundRequests: { total: number; groups: [string, number][] };
  roundCpu: number;
  peakRss: number;
  peakTreeRss: number;
  /** The control plane alone (tool stopped, its objects still there), requests / min: subtracted from idle. */
  baselinePerMin: number;
}

/** Bench-sent requests between two copies of `tool.benchRequests`. */
const sentBetween = (a: Record<string, number>, b: Record<string, number>): Record<string, number> =>
  Object.fromEntries(Object.entries(b).map(([k, v]) => [k, v - (a[k] ?? 0)]));

/** Runs one tool from process start to a measured in-sync round, then stops it. */
async function measure(api: ApiServer, start: () => Promise<Tool>, sampleEveryMs = 1000): Promise<Figures> {
  const s0: Snapshot = await api.snapshot();
  const t0 = Date.now();
  const tool = await start();
  let peakTree = 0;
  const sampler = setInterval(() => (peakTree = Math.max(peakTree, treeRss(tool.pids))), sampleEveryMs);
  try {
    while (!(await tool.ready())) {
      if (Date.now() - t0 > 120_000) throw new Error(`${tool.name} not ready within 120 s`);
      await sleep(50);
    }
    const readyzMs = Date.now() - t0;
    say(`${tool.name}: /readyz after ${readyzMs} ms`);

    let lastSay = Date.now();
    let allReadyMs = 0;
    for (;;) {
      const states = await tool.kustomizations();
      const ready = states.filter((s) => s.ready).length;
      if (states.length === N && ready === N) {
        allReadyMs = Date.now() - t0;
        break;
      }
      if (Date.now() - lastSay > 15_000) {
        say(
          `${tool.name}: ${ready}/${N} Ready after ${((Date.now() - t0) / 1000).toFixed(0)} s, load ${load()}`,
        );
        lastSay = Date.now();
      }
      if (Date.now() - t0 > READY_TIMEOUT_S * 1000)
        throw new Error(`${tool.name}: only ${ready}/${N} Ready after ${READY_TIMEOUT_S} s`);
      await sleep(1000);
    }
    const convergeCpu = treeCpuSeconds(tool.pids);
    const s1 = await api.snapshot();
    const convergeRequests = requestDelta(s0, s1, tool.benchRequests);
    const meanReconcile = await tool.meanReconcileSeconds();
    say(
      `${tool.name}: all ${N} Ready after ${(allReadyMs / 1000).toFixed(1)} s, ${convergeRequests.total} requests, ${convergeCpu.toFixed(1)} CPU-s, load ${load()}`,
    );

    const driftMs = await timeDrift(api);
    say(
      `${tool.name}: drift ${driftMs === undefined ? `not undone within ${DRIFT_TIMEOUT_S} s` : `undone in ${driftMs} ms`}`,
    );

    await sleep(5000);
    let sent = { ...tool.benchRequests };
    const s2 = await api.snapshot();
    const c2 = treeCpuSeconds(tool.pids);
    await sleep(IDLE_S * 1000);
    const s3 = await api.snapshot();
    const c3 = treeCpuSeconds(tool.pids);
    const idle = requestDelta(s2, s3, sentBetween(sent, tool.benchRequests));
    const idleRequestsPerMin = (idle.total * 60) / IDLE_S;
    const idleCpuPerMin = ((c3 - c2) * 60) / IDLE_S;
    say(
      `${tool.name}: idle ${idleRequestsPerMin.toFixed(1)} requests/min, ${idleCpuPerMin.toFixed(2)} CPU-s/min`,
    );

    // One in-sync round: every Kustomization reconciled once at an unchanged revision, as its interval does.
    const token = new Date().toISOString();
    sent = { ...tool.benchRequests };
    const s4 = await api.snapshot();
    const c4 = treeCpuSeconds(tool.pids);
    const t4 = Date.now();
    await tool.requestReconcileAll(token);
    for (;;) {
      const states = await tool.kustomizations();
      if (states.filter((s) => s.ready && s.lastHandledReconcileAt === token).length === N) break;
      if (Date.now() - t4 > READY_TIMEOUT_S * 1000) throw new Error(`${tool.name}: in-sync round not done`);
      await sleep(1000);
    }
    const roundMs = Date.now() - t4;
    const roundCpu = treeCpuSeconds(tool.pids) - c4;
    const s5 = await api.snapshot();
    const roundRequests = requestDelta(s4, s5, sentBetween(sent, tool.benchRequests));
    say(
      `${tool.name}: in-sync round of ${N} in ${(roundMs / 1000).toFixed(1)} s, ${roundRequests.total} requests, ${roundCpu.toFixed(1)} CPU-s`,
    );
    const figures: Figures = {
      readyzMs,
      allReadyMs,
      convergeRequests,
      convergeCpu,
      meanReconcile,
      driftMs,
      idleRequestsPerMin,
      idleGroups: idle.groups,
      idleCpuPerMin,
      roundMs,
      roundRequests,
      roundCpu,
      peakRss: peakRss(tool.pids),
      peakTreeRss: Math.max(peakTree, treeRss(tool.pids)),
      baselinePerMin: 0,
    };
    clearInterval(sampler);
    await tool.stop();
    // The API server's own loopback traffic (leases, endpoints, OpenAPI aggregation), to tell the tool's apart.
    await sleep(5000);
    const b0 = await api.snapshot();
    await sleep(IDLE_S * 1000);
    figures.baselinePerMin = (requestDelta(b0, await api.snapshot()).total * 60) / IDLE_S;
    say(`${tool.name} stopped: control plane alone ${figures.baselinePerMin.toFixed(1)} requests/min`);
    return figures;
  } finally {
    clearInterval(sampler);
    await tool.stop();
  }
}

/**
 * Another field manager force-applies a new value into a field the tool applied; returns the time from the
 * watch event carrying the edit to the event carrying the applied value again (undefined: not within the
 * drift timeout). Timed by a watch opened by the bench before the edit.
 */
async function timeDrift(api: ApiServer): Promise<number | undefined> {
  const { namespace, name, field, applied } = driftTarget;
  const seen: { value: string; at: number }[] = [];
  const stop = api.watch(
    `/api/v1/namespaces/${namespace}/configmaps?watch=1&fieldSelector=${encodeURIComponent(`metadata.name=${name}`)}`,
    (_type, object) =>
      seen.push({
        value: (object['data'] as Record<string, string> | undefined)?.[field] ?? '',
        at: Date.now(),
      }),
  );
  try {
    const opened = Date.now();
    while (seen.length === 0) {
      if (Date.now() - opened > 30_000) throw new Error('drift watch saw no initial event');
      await sleep(10);
    }
    const patch = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace },
      data: { [field]: 'hacked' },
    };
    await api.request(
      'PATCH',
      `/api/v1/namespaces/${namespace}/configmaps/${name}?fieldManager=intruder&force=true`,
      patch,
      'application/apply-patch+yaml',
    );
    const restored = () => {
      const edit = seen.findIndex((e) => e.value === 'hacked');
      const back = edit < 0 ? undefined : seen.slice(edit + 1).find((e) => e.value === applied);
      return back ? back.at - seen[edit]!.at : undefined;
    };
    const deadline = Date.now() + DRIFT_TIMEOUT_S * 1000;
    while (restored() === undefined && Date.now() < deadline) await sleep(5);
    return restored();
  } finally {
    stop();
  }
}

/** The floor: one `kubectl apply --server-side` of the same objects (namespaces `floor-<i>`). */
async function measureFloor(
  api: ApiServer,
  kubeconfig: string,
  work: string,
): Promise<{ ms: number; requests: number }> {
  const file = join(work, 'floor.yaml');
  const docs: string[] = [];
  for (let i = 0; i < N; i++) docs.push(...Object.values(appFiles(WORKLOAD, `floor-${i}`)));
  writeFileSync(file, docs.join('---\n'));
  const s0 = await api.snapshot();
  const t0 = Date.now();
  execFileSync(
    'kubectl',
    ['--kubeconfig', kubeconfig, 'apply', '--server-side', '--field-manager', 'bench', '-f', file],
    {
      stdio: 'ignore',
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const ms = Date.now() - t0;
  const requests = requestDelta(s0, await api.snapshot()).total;
  say(`floor: kubectl apply --server-side ${ms} ms, ${requests} requests`);
  return { ms, requests };
}

// ---- main ----
if (WORKLOAD === 'app' && !devClusterHasNodes()) {
  process.stderr.write(
    "bench/kustomize: --workload app needs a dev cluster with simulated nodes ('kedge dev cluster up --nodes', issue 12), " +
      'which this checkout does not have: Deployments would never become Available. Run it on a checkout that has it.\n',
  );
  process.exit(2);
}
const loadAtStart = load();
const startedAt = new Date().toISOString();
const work = mkdtempSync(join(tmpdir(), 'kedge-bench-ks-'));
say(`work dir ${work}; load ${loadAtStart}`);
const repoRoot = join(work, 'repos');
const git = await startGitHttpServer(repoRoot);
const results: { flux?: Figures; kube?: Figures; kedge?: Figures; floor?: { ms: number; requests: number } } =
  {};
try {
  const workload: WorkloadOptions = {
    n: N,
    workload: WORKLOAD,
    layout: LAYOUT,
    wait: WAIT,
    interval: INTERVAL,
    url: '',
  };
  const repo = createRepo({ root: repoRoot, files: repositoryFiles(workload) });
  workload.url = git.url(repo.name);
  const manifestsFile = join(work, 'manifests.yaml');
  writeFileSync(manifestsFile, manifests(workload));

  if (COMPARE === 'flux') {
    const cluster = await startCluster(work, 'flux');
    try {
      const api = new ApiServer(cluster.kubeconfigPath);
      prepareFluxCluster(cluster.kubeconfigPath, manifestsFile);
      const fluxWork = join(work, 'flux');
      mkdirSync(fluxWork, { recursive: true });
      results.flux = await measure(api, () =>
        startFlux({
          work: fluxWork,
          kubeconfig: cluster.kubeconfigPath,
          api,
          n: N,
          concurrency: CONCURRENCY,
        }),
      );
    } finally {
      await cluster.stop();
    }
  }

  if (COMPARE === 'store') {
    // Operator mode on a fresh control plane: Kedge creates its CRDs and takes the same manifests with -f.
    const cluster = await startCluster(work, 'kube');
    try {
      const api = new ApiServer(cluster.kubeconfigPath);
      execFileSync(
        'kubectl',
        ['--kubeconfig', cluster.kubeconfigPath, 'create', 'namespace', 'flux-system'],
        {
          stdio: ['ignore', 'ignore', 'inherit'],
        },
      );
      const kubeWork = join(work, 'kedge-kube');
      mkdirSync(kubeWork, { recursive: true });
      results.kube = await measure(api, () =>
        startKedge({
          work: kubeWork,
          kubeconfig: cluster.kubeconfigPath,
          manifestsFile,
          concurrency: CONCURRENCY,
          store: { kind: 'kubernetes', api, n: N },
        }),
      );
    } finally {
      await cluster.stop();
    }
  }

  const cluster = SKIP_KEDGE ? undefined : await startCluster(work, 'kedge');
  if (cluster)
    try {
      const api = new ApiServer(cluster.kubeconfigPath);
      const kedgeWork = join(work, 'kedge');
      mkdirSync(kedgeWork, { recursive: true });
      results.kedge = await measure(api, () =>
        startKedge({
          work: kedgeWork,
          kubeconfig: cluster.kubeconfigPath,
          manifestsFile,
          concurrency: CONCURRENCY,
        }),
      );
      if (FLOOR) results.floor = await measureFloor(api, cluster.kubeconfigPath, work);
    } finally {
      await cluster.stop();
    }
} finally {
  await git.stop();
  if (KEEP) say(`kept ${work} (logs of both tools)`);
  else rmSync(work, { recursive: true, force: true });
}

// ---- report ----
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
/** The tool's own requests per minute in sync: idle above the control plane's own traffic, plus one round per interval. */
const idleNet = (f: Figures) => Math.max(0, f.idleRequestsPerMin - f.baselinePerMin);
const inSyncPerMin = (f: Figures) => idleNet(f) + f.roundRequests.total / intervalMinutes;
const rows: { figure: string; value: (f: Figures) => string; num?: (f: Figures) => number | undefined }[] = [
  { figure: 'process start → `/readyz`', value: (f) => s(f.readyzMs), num: (f) => f.readyzMs },
  { figure: '**process start → all N Ready**', value: (f) => s(f.allReadyMs), num: (f) => f.allReadyMs },
  {
    figure: '**CPU to all Ready** (process tree)',
    value: (f) => `${f.convergeCpu.toFixed(1)} s`,
    num: (f) => f.convergeCpu,
  },
  {
    figure: 'mean Kustomization reconcile (`gotk_reconcile_duration_seconds`)',
    value: (f) => (f.meanReconcile === undefined ? '–' : `${f.meanReconcile.toFixed(2)} s`),
    num: (f) => f.meanReconcile,
  },
  {
    figure: 'API requests to all Ready',
    value: (f) =>
      `${f.convergeRequests.total} (${(f.convergeRequests.total / N).toFixed(1)} / Kustomization)`,
    num: (f) => f.convergeRequests.total,
  },
  {
    figure: 'undo one drift (edit event → restored event)',
    value: (f) =>
      f.driftMs === undefined ? `> ${DRIFT_TIMEOUT_S} s (not within the window)` : `${f.driftMs} ms`,
    num: (f) => f.driftMs,
  },
  {
    figure: `idle ${IDLE_S} s after the drift: API requests / min (all / control plane alone / the tool's)`,
    value: (f) =>
      `${f.idleRequestsPerMin.toFixed(1)} / ${f.baselinePerMin.toFixed(1)} / ${idleNet(f).toFixed(1)}`,
    num: idleNet,
  },
  { figure: `idle: CPU-s / min`, value: (f) => f.idleCpuPerMin.toFixed(2), num: (f) => f.idleCpuPerMin },
  {
    figure: 'one in-sync round (all N reconciled at an unchanged revision): time',
    value: (f) => s(f.roundMs),
    num: (f) => f.roundMs,
  },
  {
    figure: 'in-sync round: API requests',
    value: (f) => `${f.roundRequests.total} (${(f.roundRequests.total / N / 10).toFixed(2)} / object)`,
    num: (f) => f.roundRequests.total,
  },
  { figure: 'in-sync round: CPU', value: (f) => `${f.roundCpu.toFixed(1)} s`, num: (f) => f.roundCpu },
  {
    figure: `**in sync: API requests / min** (the tool's idle + one round per ${intervalMinutes} min)`,
    value: (f) => inSyncPerMin(f).toFixed(1),
    num: inSyncPerMin,
  },
  {
    figure: '**peak RSS** (VmHWM, sum of main processes)',
    value: (f) => mib(f.peakRss),
    num: (f) => f.peakRss,
  },
  {
    figure: 'peak RSS of the process tree (sampled every 1 s)',
    value: (f) => mib(f.peakTreeRss),
    num: (f) => f.peakTreeRss,
  },
];
const out: string[] = [];
out.push(
  `N = ${N} Kustomizations × 10 objects (${WORKLOAD === 'configmaps' ? '1 Namespace + 9 ConfigMaps' : 'Namespace, ServiceAccount, Deployment, Service, HPA, 5 ConfigMaps'}), ` +
    `layout ${LAYOUT}, wait: ${WAIT}, interval ${INTERVAL}, concurrency ${CONCURRENCY}; ${cpus().length} CPUs, ` +
    `${(totalmem() / 2 ** 30).toFixed(1)} GiB; started ${startedAt}; load average (1/5/15 min) ${loadAtStart} at start, ${load()} at end`,
  '',
);
const { flux, kube, kedge } = results;
/** Status writes per Kustomization in the in-sync round (PUT/PATCH of kustomizations/status). */
const statusWrites = (f: Figures) =>
  f.roundRequests.groups
    .filter(([key]) => /^(PUT|PATCH|APPLY) kustomizations\/status/.test(key))
    .reduce((sum, [, n]) => sum + n, 0) / N;
rows.push({
  figure: 'in-sync round: status writes / Kustomization',
  value: (f) => statusWrites(f).toFixed(2),
  num: statusWrites,
});
// Two columns and their ratio (second / first): Flux vs Kedge, or Kedge's SQLite store vs its Kubernetes store.
const pair: [string, Figures, string, Figures] | undefined =
  flux && kedge
    ? ['Flux', flux, 'Kedge', kedge]
    : kube && kedge
      ? ['Kedge, SQLite store', kedge, 'Kedge, Kubernetes store', kube]
      : undefined;
if (pair) {
  const [aName, a, bName, b] = pair;
  out.push(`| Figure | ${aName} | ${bName} | ${bName} / ${aName} |`, '|---|---|---|---|');
  for (const row of rows) {
    const x = row.num?.(a);
    const y = row.num?.(b);
    const ratio = x !== undefined && y !== undefined && x > 0 ? `${(y / x).toFixed(2)}×` : '–';
    out.push(`| ${row.figure} | ${row.value(a)} | ${row.value(b)} | ${ratio} |`);
  }
} else {
  for (const [name, f] of Object.entries({ Flux: flux, 'Kedge, Kubernetes store': kube, Kedge: kedge })) {
    if (!f) continue;
    out.push(`| Figure | ${name} |`, '|---|---|');
    for (const row of rows) out.push(`| ${row.figure} | ${row.value(f)} |`);
  }
}
if (results.floor && kedge) {
  const { ms, requests } = results.floor;
  out.push(
    '',
    `Floor (same control plane as Kedge, after it): one \`kubectl apply --server-side\` of the same N × 10 objects ` +
      `took ${s(ms)} and ${requests} requests; Kedge / floor: ${(kedge.allReadyMs / ms).toFixed(2)}× time, ` +
      `${(kedge.convergeRequests.total / requests).toFixed(2)}× requests.`,
  );
}
out.push('');
for (const [name, f] of Object.entries({ Flux: flux, 'Kedge, Kubernetes store': kube, Kedge: kedge })) {
  if (!f) continue;
  out.push(`- ${name}, requests to all Ready by group: ${topGroups(f.convergeRequests.groups, 8)}`);
  out.push(`- ${name}, in-sync round by group: ${topGroups(f.roundRequests.groups, 8)}`);
  out.push(`- ${name}, idle per minute by group: ${topGroups(f.idleGroups, 6, 60 / IDLE_S)}`);
}
process.stdout.write(`${out.join('\n')}\n`);
