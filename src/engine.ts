import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { BucketReconciler } from './controllers/bucket.ts';
import { HelmChartReconciler } from './controllers/helmchart.ts';
import { HelmRepositoryReconciler } from './controllers/helmrepository.ts';
import { OCIRepositoryReconciler } from './controllers/ocirepository.ts';
import { GitRepositoryReconciler } from './controllers/gitrepository.ts';
import { KustomizationReconciler } from './controllers/kustomization.ts';
import { HelmReleaseReconciler } from './controllers/helmrelease.ts';
import { RenderCache } from './kustomize/render-cache.ts';
import { hostname } from 'node:os';
import { advertisedArtifactUrl } from './source/artifact/advertised-url.ts';
import { AlertReconciler } from './controllers/alert.ts';
import { ProviderReconciler } from './controllers/provider.ts';
import { ReceiverReconciler } from './controllers/receiver.ts';
import { DeliveryHealth } from './notify/delivery-health.ts';
import { NotificationDispatcher } from './notify/dispatcher.ts';
import { startReceiverServer } from './notify/receiver-server.ts';
import { EventRecorder } from './runtime/event-recorder.ts';
import type { Logger } from './runtime/logger.ts';
import type { ReconcileFinished } from './runtime/controller.ts';
import { Manager } from './runtime/manager.ts';
import { AppReconciler } from './controllers/app.ts';
import { retainedArtifactPaths } from './history/retained-artifacts.ts';
import type { ObjectRef } from './api/meta.ts';
import { HostRuntime, type HostRuntimeOptions } from './host/host-runtime.ts';
import { registerTrafficMetrics } from './host/canary/traffic-metrics.ts';
import { EngineMetrics } from './runtime/metrics.ts';
import { ArtifactStorage, startArtifactServer } from './source/artifact/index.ts';
import { acquireEngineLock, updateEngineLock } from './store/engine-lock.ts';
import { resetScratchDir, scratchDir } from './store/scratch-dir.ts';
import { openStore } from './store/open-store.ts';
import type { StoreKubeConfigOptions as KubeConfigSource } from './store/kubernetes/store-kubeconfig.ts';
import type { Store } from './store/store.ts';
import { startHealthServer, type Readiness } from './web/health-server.ts';
import type { ListenAddress } from './web/listen-address.ts';
import type { DashboardServer } from './web/dashboard/dashboard-server.ts';
import type { LeaderElectionSettings, LeaderGate } from './runtime/leader-gate.ts';

/** Everything the engine needs to start; the CLI turns flags into this. */
export interface EngineSettings {
  /** Store, artifacts and everything needed to restart where it stopped. */
  dataDir: string;
  storageAddress: ListenAddress;
  /**
   * `--storage-adv-addr`: the address artifact URLs carry (`host` or `host:port`), as Flux's source-controller.
   * Default: in a pod, the artifact Service `kedge install` creates; else the bound address (this machine's host
   * name when bound to 0.0.0.0 or ::). See `advertisedArtifactUrl`.
   */
  storageAdvertisedAddress?: string;
  metricsAddress: ListenAddress;
  /** Webhook receivers (`--receiver-addr`). Default 127.0.0.1:9292; port 0 picks a free port. */
  receiverAddress?: ListenAddress;
  /** Artifacts kept per source besides the current one. Default 2. */
  artifactRetention?: number;
  /** History entries kept per Kustomization and App (`--history-limit`). Default 100. */
  historyLimit?: number;
  /** Reconciles of one kind running at once. Default 4. */
  concurrency?: number;
  /**
   * Where Kedge's own objects live: `sqlite` (default, standalone: `<dataDir>/kedge.db`) or `kubernetes`
   * (operator mode: Flux's custom resources on the cluster of `kubeconfig`/`kubeContext`, else KUBECONFIG, the
   * in-cluster service account or ~/.kube/config; every rendered object is applied to that cluster).
   */
  store?: 'sqlite' | 'kubernetes';
  /**
   * Kubeconfig file (`--kubeconfig`). Standalone: the cluster Kustomizations apply non-Kedge kinds to (none:
   * store only). Operator mode: the cluster that is the store and the target.
   */
  kubeconfig?: string;
  /** A context of that kubeconfig instead of its current one (`--context`). */
  kubeContext?: string;
  /** Operator mode: reconcile only objects in this namespace (`--watch-all-namespaces=false`); default all. */
  watchNamespace?: string;
  /** Operator mode: reconcile only objects whose labels match (`--watch-label-selector`, Flux's sharding). */
  watchLabelSelector?: string;
  /** Wait before re-checking unready `dependsOn` or a missing source (`--requeue-dependency`). Default 30s. */
  requeueDependency?: string;
  /** How long in-flight reconciles may run on after a stop request. Default 10 s. */
  shutdownGraceMs?: number;
  /** The host runtime (App): `leaveAppsRunning` keeps apps running on stop, for the next engine to adopt. */
  hostRuntime?: Omit<HostRuntimeOptions, 'dataDir'> & { leaveAppsRunning?: boolean };
  /** Told of every reconcile that ran to its end, from the very first (`kedge up --once` judges by these). */
  onReconcileFinished?: (finished: ReconcileFinished) => void;
  /**
   * Leader election (`--leader-elect`): the controllers reconcile only while this instance holds the Lease
   * (default `kedge-system/kedge-leader`); they stop at once when it is lost. The servers (artifacts, receivers,
   * metrics and health) run either way; `/readyz` says `leader` or `follower`. Default: none, always reconcile.
   */
  leaderElection?: LeaderElectionSettings;
  /**
   * The dashboard (`--web-addr`, `--web-token`): served on `address` when given, else not at all. Off loopback it
   * always needs a token; one is generated when none is given (see `Engine.web`).
   */
  web?: { address: ListenAddress; token?: string; /** The default address, not asked for: when it is taken, run without the dashboard. */ optional?: boolean };
  log: Logger;
}

/** A running engine. */
export interface Engine {
  store: Store;
  manager: Manager;
  events: EventRecorder;
  metrics: EngineMetrics;
  storageUrl: string;
  metricsUrl: string;
  /** Base URL of the webhook receiver server (`<url>/hook/…`). */
  receiverUrl: string;
  /** With `leaderElection`: the election (its elector and where this instance stands). */
  leaderGate?: LeaderGate;
  /** With `web`: the dashboard's URL and the token it needs (given or generated), if any. */
  web?: DashboardServer;
  /** Graceful: stops taking work, lets in-flight reconciles finish (or aborts them after the grace period), closes the store. */
  stop(): Promise<void>;
}

/**
 * Starts Kedge on a data dir: takes the data dir's engine lock (one engine per data dir: artifacts and scratch
 * space live there in both modes), opens the store — the embedded SQLite file, or in operator mode the
 * cluster's custom resources (only the watched namespace and labels) after making sure their CRDs exist —
 * starts the artifact and health servers and every controller; each stored object is reconciled once on start.
 */
export async function startEngine(settings: EngineSettings): Promise<Engine> {
  const dataDir = resolve(settings.dataDir);
  await mkdir(dataDir, { recursive: true });
  const lock = await acquireEngineLock(dataDir, {});
  const cleanups: Array<() => Promise<void> | void> = [() => lock.release()];
  try {
    const log = settings.log;
    const operator = settings.store === 'kubernetes';
    const cluster: KubeConfigSource | undefined =
      operator || settings.kubeconfig !== undefined ? { kubeconfig: settings.kubeconfig, context: settings.kubeContext } : undefined;
    if (!operator && (settings.watchNamespace !== undefined || settings.watchLabelSelector !== undefined))
      throw new Error('watching one namespace or a label selector needs the Kubernetes store (--store kubernetes)');
    const scope = { namespace: settings.watchNamespace, labelSelector: settings.watchLabelSelector };
    if (operator) {
      const [{ storeKubeConfig: loadKubeConfig }, { prepareClusterStore }] = await Promise.all([import('./store/kubernetes/store-kubeconfig.ts'), import('./store/cluster-store-setup.ts')]);
      await prepareClusterStore(loadKubeConfig(cluster ?? {}), settings.watchNamespace, log);
    }
    const store = await openStore({ kind: operator ? 'kubernetes' : 'sqlite', dataDir, cluster, scope });
    cleanups.unshift(() => store.close());
    const metrics = new EngineMetrics();
    // Under the engine lock: whatever is in <data-dir>/tmp was left by an engine that crashed mid-reconcile.
    const leftovers = await resetScratchDir(dataDir);
    if (leftovers.length > 0) log.info({ removed: leftovers.length }, `removed ${leftovers.length} leftover scratch dir(s) of an engine that did not stop cleanly`);
    const scratch = scratchDir(dataDir);
    const events = new EventRecorder(store, log);

    const artifactRoot = join(dataDir, 'artifacts');
    await mkdir(artifactRoot, { recursive: true });
    const artifactServer = await startArtifactServer({ root: artifactRoot, ...settings.storageAddress });
    cleanups.unshift(() => artifactServer.close());
    const advertised = advertisedArtifactUrl({ advertised: settings.storageAdvertisedAddress, bound: { host: settings.storageAddress.host, port: artifactServer.port } });
    const storage = new ArtifactStorage(artifactRoot, advertised);

    let started = false;
    let gate: LeaderGate | undefined;
    const health = await startHealthServer(settings.metricsAddress, metrics.registry, () => readiness(started, gate));
    cleanups.unshift(() => health.close());

    const manager = new Manager(store, metrics, log);
    if (settings.onReconcileFinished) manager.onReconcileFinished(settings.onReconcileFinished);
    const concurrency = settings.concurrency ?? 4;
    const retainedArtifacts = (source: ObjectRef) => retainedArtifactPaths(store, source);
    manager.register(
      new GitRepositoryReconciler({ store, storage, events, metrics, retainArtifacts: settings.artifactRetention ?? 2, retainedArtifacts, scratchDir: scratch }),
      { concurrency },
    );
    manager.register(
      new BucketReconciler({ store, storage, events, metrics, retainArtifacts: settings.artifactRetention ?? 2, retainedArtifacts, scratchDir: scratch }),
      { concurrency },
    );
    manager.register(
      new HelmRepositoryReconciler({ store, storage, events, metrics, retainArtifacts: settings.artifactRetention ?? 2, scratchDir: scratch }),
      { concurrency },
    );
    manager.register(
      new HelmChartReconciler({ store, storage, events, metrics, retainArtifacts: settings.artifactRetention ?? 2, scratchDir: scratch }),
      { concurrency },
    );
    manager.register(
      new OCIRepositoryReconciler({ store, storage, events, metrics, retainArtifacts: settings.artifactRetention ?? 2, scratchDir: scratch }),
      { concurrency },
    );
    const kustomizations = new KustomizationReconciler({
      store,
      events,
      artifactRoot,
      cluster,
      storeIsCluster: operator,
      requeueDependency: settings.requeueDependency,
      renderCache: new RenderCache(),
      scratchDir: scratch,
      enqueue: (ref) => manager.enqueue(ref),
      historyLimit: settings.historyLimit,
    });
    manager.register(kustomizations, { concurrency });
    cleanups.unshift(() => kustomizations.close());
    const helmReleases = new HelmReleaseReconciler({ store, events, artifactRoot, cluster, requeueDependency: settings.requeueDependency, scratchDir: scratch });
    manager.register(helmReleases, { concurrency });
    cleanups.unshift(() => helmReleases.close());
    // Notifications: Provider/Alert/Receiver controllers, the event dispatcher and the webhook receiver server.
    const deliveryHealth = new DeliveryHealth();
    deliveryHealth.onChange((ref) => manager.enqueue(ref));
    manager.register(new ProviderReconciler({ store, health: deliveryHealth }), { concurrency: 1 });
    manager.register(new AlertReconciler({ store, health: deliveryHealth }), { concurrency: 1 });
    manager.register(new ReceiverReconciler({ store }), { concurrency: 1 });
    const dispatcher = new NotificationDispatcher({ store, events, metrics, log, health: deliveryHealth, instance: hostname() });
    dispatcher.start();
    cleanups.unshift(() => dispatcher.stop());
    const receiverAddress = settings.receiverAddress ?? { host: '127.0.0.1', port: 9292 };
    const receivers = await startReceiverServer({ address: receiverAddress, store, log, enqueue: (ref) => manager.enqueue(ref) });
    cleanups.unshift(() => receivers.close());
    // Host runtime: Apps as supervised processes; replicas a previous engine left running are adopted.
    const hostRuntime = new HostRuntime({ ...settings.hostRuntime, dataDir, log });
    const recordedApps = hostRuntime.start();
    registerTrafficMetrics(metrics.registry, hostRuntime);
    cleanups.unshift(() => hostRuntime.shutdown({ leaveRunning: settings.hostRuntime?.leaveAppsRunning }));
    manager.register(
      new AppReconciler({ store, runtime: hostRuntime, events, enqueue: (ref) => manager.enqueue(ref), historyLimit: settings.historyLimit }),
      { concurrency },
    );
    const startControllers = async (): Promise<void> => {
      await manager.start();
      for (const ref of recordedApps) manager.enqueue(ref);
    };
    if (settings.leaderElection) {
      // Controllers run only while leading; drift undo (in the Kustomization reconciler) is reconciling too.
      const { startLeaderGate } = await import('./runtime/leader-gate.ts');
      const stopControllers = async (graceMs: number) => {
        await manager.stop(graceMs);
        await kustomizations.close();
      };
      const shutdownGraceMs = settings.shutdownGraceMs ?? 10_000;
      const { storeKubeConfig: loadKubeConfig } = await import('./store/kubernetes/store-kubeconfig.ts');
      // The Lease lives on the engine's own cluster (--kubeconfig/--context, else KUBECONFIG or in-cluster).
      const election = { ...settings.leaderElection, kubeConfig: settings.leaderElection.kubeConfig ?? loadKubeConfig(cluster ?? {}) };
      const leaderGate = await startLeaderGate(election, settings.kubeconfig, { start: startControllers, stop: stopControllers }, { metrics, log, shutdownGraceMs });
      gate = leaderGate;
      cleanups.unshift(() => leaderGate.stop());
    } else await startControllers();
    let web: DashboardServer | undefined;
    if (settings.web) {
      const { startDashboardServer } = await import('./web/dashboard/dashboard-server.ts');
      const dashboard = await startDashboardServer({ ...settings.web, store, kinds: manager.kinds(), events, dataDir }).catch((error: unknown) => {
        // The default address taken (another engine on this machine): run without a dashboard rather than not at all.
        if (!settings.web?.optional || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
        log.warn({ address: `${settings.web.address.host}:${settings.web.address.port}` }, 'dashboard not served: its default address is in use; choose another with --web-addr');
        return undefined;
      });
      if (dashboard) {
        cleanups.unshift(() => dashboard.close());
        web = dashboard;
      }
    }
    started = true;
    await updateEngineLock(dataDir, { storageUrl: artifactServer.url, metricsUrl: health.url });
    log.info({ dataDir, storage: artifactServer.url, metrics: health.url }, 'engine started');

    let stopping: Promise<void> | undefined;
    return {
      store,
      manager,
      events,
      metrics,
      storageUrl: artifactServer.url,
      metricsUrl: health.url,
      receiverUrl: receivers.url,
      leaderGate: gate,
      web,
      stop: () =>
        (stopping ??= (async () => {
          // With leader election: stop leading (controllers stop gracefully), then release the lease.
          await gate?.stop();
          await manager.stop(settings.shutdownGraceMs ?? 10_000);
          for (const cleanup of cleanups) await cleanup();
          log.info('engine stopped');
        })()),
    };
  } catch (error) {
    for (const cleanup of cleanups) await Promise.resolve(cleanup()).catch(() => undefined);
    throw error;
  }
}


/** `/readyz`: started; with leader election, whether this instance leads or follows (lost: not ready). */
function readiness(started: boolean, gate: LeaderGate | undefined): boolean | Readiness {
  if (!started || !gate) return started;
  const state = gate.leadership();
  if (state === 'leader') return { ready: true, detail: 'ok: leader' };
  if (state === 'follower') return { ready: true, detail: `ok: follower${gate.elector.leader ? ` of ${gate.elector.leader}` : ''}` };
  return { ready: false, detail: state === 'lost' ? 'leader election lost' : 'stopping' };
}
