import { execFile, execFileSync, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { parseAllDocuments, stringify } from 'yaml';
import {
  ensureFluxControllers,
  fluxCrds,
  startFluxControllers,
  type FluxControllers,
} from '../flux/flux-controllers.ts';
import type { ApiServer } from './api-server.ts';
import { freeLoopbackPort as freePort } from '../../src/devcluster/free-port.ts';

/** One Kustomization's state as the bench reads it from the tool's own store. */
export interface KsState {
  ready: boolean;
  lastHandledReconcileAt?: string;
}

/** A GitOps tool under test, as processes the bench starts and reads. */
export interface Tool {
  name: 'Kedge' | 'Kedge (Kubernetes store)' | 'Flux';
  /** Root process ids (their trees are measured). */
  pids: number[];
  /** The tool's health endpoint(s) answer `/readyz`. */
  ready(): Promise<boolean>;
  /** Every Kustomization's state (Ready=True at its generation, last handled reconcile request). */
  kustomizations(): Promise<KsState[]>;
  /** Asks for a reconcile of every Kustomization with `token` (`reconcile.fluxcd.io/requestedAt`), as users do. */
  requestReconcileAll(token: string): Promise<void>;
  /** Mean Kustomization reconcile duration so far, from the tool's `gotk_reconcile_duration_seconds`. */
  meanReconcileSeconds(): Promise<number | undefined>;
  /** API requests the bench sent for this tool so far, by `VERB resource` (left out of the tool's counts). */
  benchRequests: Record<string, number>;
  stop(): Promise<void>;
}

const execFileAsync = promisify(execFile);
const KEDGE_BIN = fileURLToPath(new URL('../../bin/kedge.js', import.meta.url));
const RequestedAt = 'reconcile.fluxcd.io/requestedAt';

interface StatusLike {
  conditions?: { type: string; status: string; observedGeneration?: number }[];
  lastHandledReconcileAt?: string;
}

function ksState(generation: number, status: StatusLike | undefined): KsState {
  const ready = (status?.conditions ?? []).some(
    (c) => c.type === 'Ready' && c.status === 'True' && c.observedGeneration === generation,
  );
  const state: KsState = { ready };
  if (status?.lastHandledReconcileAt) state.lastHandledReconcileAt = status.lastHandledReconcileAt;
  return state;
}

async function meanFromMetrics(url: string): Promise<number | undefined> {
  const text = await fetch(`${url}/metrics`)
    .then((r) => r.text())
    .catch(() => '');
  let sum = 0;
  let count = 0;
  for (const line of text.split('\n')) {
    if (!line.includes('kind="Kustomization"')) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.startsWith('gotk_reconcile_duration_seconds_sum{')) sum += value;
    else if (line.startsWith('gotk_reconcile_duration_seconds_count{')) count += value;
  }
  return count > 0 ? sum / count : undefined;
}

/**
 * `kedge up` as users run it: the compiled CLI (`bin/kedge.js`, build with `npm run build`), a cluster
 * kubeconfig, the GitRepository and Kustomizations applied with `-f` at start. Its state is read from its
 * SQLite store (read-only), not through its CLI, so the poller costs it nothing.
 */
export async function startKedge(opts: {
  work: string;
  kubeconfig: string;
  manifestsFile: string;
  concurrency: number;
  /** `kubernetes`: operator mode (`--store kubernetes`); state read and requests sent through the API server. */
  store?: { kind: 'kubernetes'; api: ApiServer; n: number };
}): Promise<Tool> {
  if (!existsSync(join(KEDGE_BIN, '..', '..', 'dist', 'kedge.js')))
    throw new Error(
      `the compiled CLI is missing: run 'npm run build' first (bin/kedge.js imports dist/kedge.js)`,
    );
  const dataDir = join(opts.work, 'kedge-data');
  const metricsPort = await freePort();
  const log = openSync(join(opts.work, 'kedge.log'), 'a');
  const child = spawn(
    process.execPath,
    [
      KEDGE_BIN,
      '--data-dir',
      dataDir,
      '--log-level',
      'warn',
      '--log-format',
      'json',
      'up',
      '-f',
      opts.manifestsFile,
      '--kubeconfig',
      opts.kubeconfig,
      '--concurrency',
      String(opts.concurrency),
      '--storage-addr',
      '127.0.0.1:0',
      '--receiver-addr',
      '127.0.0.1:0',
      '--metrics-addr',
      `127.0.0.1:${metricsPort}`,
      ...(opts.store ? ['--store', 'kubernetes'] : []),
    ],
    { stdio: ['ignore', log, log], env: { ...process.env, NO_COLOR: '1' } },
  );
  if (child.pid === undefined) throw new Error('could not start kedge');
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const metricsUrl = `http://127.0.0.1:${metricsPort}`;
  let db: Database.Database | undefined;
  const storeFile = join(dataDir, 'kedge.db');
  if (opts.store) {
    // Operator mode: the custom resources are read and annotated through the API server, as for Flux.
    const cluster = clusterState(opts.store.api, opts.store.n);
    return {
      name: 'Kedge (Kubernetes store)',
      pids: [child.pid],
      benchRequests: cluster.benchRequests,
      ready: () =>
        fetch(`${metricsUrl}/readyz`)
          .then((r) => r.ok)
          .catch(() => false),
      kustomizations() {
        if (child.exitCode !== null)
          throw new Error(`kedge up exited (${child.exitCode}); see ${opts.work}/kedge.log`);
        return cluster.kustomizations();
      },
      requestReconcileAll: cluster.requestReconcileAll,
      meanReconcileSeconds: () => meanFromMetrics(metricsUrl),
      async stop() {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(timer);
      },
    };
  }
  return {
    name: 'Kedge',
    pids: [child.pid],
    benchRequests: {},
    ready: () =>
      fetch(`${metricsUrl}/readyz`)
        .then((r) => r.ok)
        .catch(() => false),
    kustomizations() {
      if (child.exitCode !== null)
        throw new Error(`kedge up exited (${child.exitCode}); see ${opts.work}/kedge.log`);
      if (!db) {
        if (!existsSync(storeFile)) return Promise.resolve([]);
        db = new Database(storeFile, { readonly: true, fileMustExist: true });
      }
      const rows = db
        .prepare(`SELECT generation, status FROM objects WHERE kind = 'Kustomization'`)
        .all() as { generation: number; status: string | null }[];
      return Promise.resolve(
        rows.map((r) => ksState(r.generation, r.status ? (JSON.parse(r.status) as StatusLike) : undefined)),
      );
    },
    async requestReconcileAll(token) {
      // What a user would do for many objects at once: apply them again with the request annotation (one CLI run).
      const docs = parseAllDocuments(readFileSync(opts.manifestsFile, 'utf8'))
        .map((d) => d.toJS() as { kind: string; metadata: { annotations?: Record<string, string> } })
        .filter((d) => d.kind === 'Kustomization');
      for (const d of docs) d.metadata.annotations = { ...d.metadata.annotations, [RequestedAt]: token };
      const file = join(opts.work, 'kedge-reconcile.yaml');
      writeFileSync(file, docs.map((d) => stringify(d)).join('---\n'));
      await execFileAsync(process.execPath, [KEDGE_BIN, '--data-dir', dataDir, 'apply', '-f', file], {
        maxBuffer: 64 * 1024 * 1024,
      });
    },
    meanReconcileSeconds: () => meanFromMetrics(metricsUrl),
    async stop() {
      db?.close();
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Applies Flux's CRDs, the `flux-system` namespace and the manifests to the cluster (before the controllers start). */
export function prepareFluxCluster(kubeconfig: string, manifestsFile: string): void {
  ensureFluxControllers();
  const kubectl = (...args: string[]) =>
    execFileSync('kubectl', ['--kubeconfig', kubeconfig, ...args], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  kubectl('apply', '--server-side', '-f', fluxCrds);
  kubectl('wait', '--for', 'condition=established', '--timeout', '60s', 'crd', '--all');
  kubectl('create', 'namespace', 'flux-system');
  kubectl('apply', '--server-side', '--field-manager', 'bench', '-f', manifestsFile);
}

/** Flux's source-controller + kustomize-controller; state read with one LIST of Kustomizations per poll. */
export async function startFlux(opts: {
  work: string;
  kubeconfig: string;
  api: ApiServer;
  n: number;
  concurrency: number;
}): Promise<Tool> {
  const ports = {
    sourceMetrics: await freePort(),
    sourceHealth: await freePort(),
    storage: await freePort(),
    kustomizeMetrics: await freePort(),
    kustomizeHealth: await freePort(),
  };
  const controllers: FluxControllers = startFluxControllers({
    kubeconfig: opts.kubeconfig,
    storageDir: join(opts.work, 'flux-storage'),
    logDir: opts.work,
    ports,
    concurrency: opts.concurrency,
  });
  const cluster = clusterState(opts.api, opts.n);
  return {
    name: 'Flux',
    pids: controllers.pids,
    benchRequests: cluster.benchRequests,
    ready: () => controllers.ready(),
    kustomizations: cluster.kustomizations,
    requestReconcileAll: cluster.requestReconcileAll,
    meanReconcileSeconds: () => meanFromMetrics(controllers.metricsUrl),
    stop: () => controllers.stop(),
  };
}

/**
 * Kustomizations kept as custom resources (Flux, Kedge's operator mode): one LIST per poll, and what
 * `flux reconcile ks` does per object to request a reconcile (a merge patch of the annotation); both counted as
 * the bench's own requests.
 */
function clusterState(
  api: ApiServer,
  n: number,
): Pick<Tool, 'benchRequests' | 'kustomizations' | 'requestReconcileAll'> {
  const path = '/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations';
  const benchRequests: Record<string, number> = {};
  const sent = (key: string) => (benchRequests[key] = (benchRequests[key] ?? 0) + 1);
  return {
    benchRequests,
    async kustomizations() {
      sent('LIST kustomizations');
      const list = JSON.parse(await api.request('GET', path)) as {
        items: { metadata: { generation: number }; status?: StatusLike }[];
      };
      return list.items.map((o) => ksState(o.metadata.generation, o.status));
    },
    async requestReconcileAll(token) {
      const patch = { metadata: { annotations: { [RequestedAt]: token } } };
      for (let i = 0; i < n; i++) {
        sent('PATCH kustomizations');
        await api.request('PATCH', `${path}/ks-${i}`, patch, 'application/merge-patch+json');
      }
    },
  };
}
