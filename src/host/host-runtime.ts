import type { AppReplicaStatus } from '../api/app.ts';
import type { ObjectRef } from '../api/meta.ts';
import { freeLoopbackPort } from '../devcluster/free-port.ts';
import { listenExposeProxy, type ExposeProtocol, type ExposeProxy } from './expose-proxy.ts';
import { ReleasePreparations, type PreparationProgress, type PreparationRequest } from './release-preparation.ts';
import { ReleaseStore } from './release-store.ts';
import { Replica, type ReplicaEvent, type RestartBackoff } from './replica.ts';
import { ReplicaRegistry, type AppRecord, type ReplicaRecord } from './replica-registry.ts';
import { discoverReplicas, replicaMarker, type DiscoveredReplica } from './replica-discovery.ts';
import type { Logger } from '../runtime/logger.ts';
import { DefaultLogLimits, removeAppLogs, replicaLogFile } from './replica-logs.ts';
import { templateHash, type ReplicaTemplate } from './replica-template.ts';
import { planRollout } from './rollout-plan.ts';
import { planCanary } from './canary/canary-plan.ts';
import type { RevisionCounts } from './canary/revision-stats.ts';
import type { TrafficSplit } from './canary/traffic-split.ts';

export interface HostRuntimeOptions {
  dataDir: string;
  /** Restart delays of exited replicas. Default 1 s doubling to 5 min, reset after 60 s of running. */
  restartBackoff?: Partial<RestartBackoff>;
  /** Replica logs rotate before a file would exceed this size. Default 10 MiB. */
  logMaxBytes?: number;
  /** Log files kept per replica, the current one included. Default 3 (so 30 MiB per replica by default). */
  logMaxFiles?: number;
  /** Where the runtime says what it did on its own (adopted, stopped or recovered replicas). */
  log?: Logger;
}

/** The runtime cannot start safely: it cannot tell which replicas of its data dir run. */
export class HostRuntimeStartError extends Error {
  readonly reason = 'ReplicaRegistryUnreadable';
}

/** What an App should look like now; the reconciler computes it from the spec. */
export interface DesiredApp {
  template: ReplicaTemplate;
  replicas: number;
  maxSurge: number;
  maxUnavailable: number;
  exposePort?: number;
  /** How the expose port forwards. Default `http`. */
  exposeProtocol?: ExposeProtocol;
  progressDeadlineMs: number;
  /**
   * A canary of `template` runs next to the replicas of other templates (the stable ones, left untouched):
   * `replicas` of it, sent `weight` % of the requests. Without it, the rolling update replaces every replica.
   */
  canary?: CanaryPlacement;
}

/** How a canary runs: its replicas, its share of the requests and how clients are pinned to a side. */
export interface CanaryPlacement {
  replicas: number;
  weight: number;
  routing?: Pick<TrafficSplit, 'header' | 'cookie'>;
}

/** One replica as status shows it: exactly the App status entry. */
export type ReplicaView = AppReplicaStatus;

/** What an App's processes look like right now, whatever template they run. */
export interface ReplicaSnapshot {
  replicas: ReplicaView[];
  /** Non-terminating replicas. */
  total: number;
  /** Replicas ready now (a replica in CrashLoopBackOff is not). */
  ready: number;
  /** Replicas in CrashLoopBackOff. */
  crashLooping: number;
  exposedAddress?: string;
}

/** What an App's processes look like after one converge step. */
export interface AppObservation extends ReplicaSnapshot {
  templateHash: string;
  updated: number;
  updatedReady: number;
  /** Every replica runs the desired template, is ready, and there are exactly the desired number. */
  complete: boolean;
  /** The rollout of this template made no progress for longer than its deadline (never once a rollout completed). */
  deadlineExceeded: boolean;
  /** Milliseconds until the deadline passes (while progressing). */
  deadlineInMs: number;
  /** What this step did, for events: `started replica 2`, `stopping replica 0`. */
  actions: string[];
}

/** A process-level happening of one App: the runtime calls listeners on any change worth a reconcile. */
export type HostRuntimeListener = (ref: ObjectRef, event?: ReplicaEvent) => void;

interface AppState {
  ref: ObjectRef;
  replicas: Replica[];
  /** Replicas being stopped, with the promise of their end. */
  terminating: Map<Replica, Promise<void>>;
  proxy?: ExposeProxy;
  record: AppRecord;
  /** Ready replicas of the desired template at the last change (progress tracking). */
  lastReady: number;
  /** The canary being run (set by every converge): the proxy splits by it. */
  canary?: { templateHash: string; placement: CanaryPlacement };
}

const key = (ref: Pick<ObjectRef, 'namespace' | 'name'>) => `${ref.namespace}/${ref.name}`;

/**
 * The host runtime: Apps as supervised processes on this machine. One instance per engine and data dir.
 * Guarantees: every started replica is in the registry before `converge` returns; {@link start} re-adopts the
 * recorded replicas whose process (pid and start time) still runs and forgets the rest, so a restarted engine
 * neither duplicates nor orphans replicas; a stopped replica leaves the expose proxy and is drained before it
 * gets SIGTERM; {@link shutdown} stops every replica unless told to leave them running. Long work runs in
 * the background, never in the caller: releases are prepared by {@link prepareRelease} (one background
 * operation per App, stopped by its deadline, by a newer release, by {@link remove} and by {@link shutdown}),
 * and every end of such work, like every process event, is reported to the {@link onChange} listeners.
 */
export class HostRuntime {
  readonly releases: ReleaseStore;
  private readonly preparations: ReleasePreparations;
  private readonly registry: ReplicaRegistry;
  private readonly apps = new Map<string, AppState>();
  private readonly listeners: HostRuntimeListener[] = [];
  private readonly backoff: RestartBackoff;

  constructor(private readonly options: HostRuntimeOptions) {
    this.releases = new ReleaseStore(options.dataDir);
    this.preparations = new ReleasePreparations(this.releases, (ref) => this.emit(ref));
    this.registry = new ReplicaRegistry(options.dataDir);
    this.backoff = { baseMs: 1_000, maxMs: 300_000, resetAfterMs: 60_000, ...options.restartBackoff };
  }

  onChange(listener: HostRuntimeListener): void {
    this.listeners.push(listener);
  }

  /**
   * Re-adopts live replicas from the registry (`replicas.json`, else `replicas.json.prev`), then scans `/proc`
   * for processes carrying this data dir's replica marker: one the registry does not describe is stopped (its
   * App starts a replacement), so no replica of this data dir is left running unmanaged. An unreadable
   * registry is moved aside (`replicas.json.corrupt-<time>`), never overwritten. Returns every App the
   * registry or the scan knew (to be reconciled). Throws {@link HostRuntimeStartError} when the registry is
   * unreadable and `/proc` cannot be scanned.
   */
  start(): ObjectRef[] {
    const loaded = this.registry.load();
    const { apps, replicas } = loaded;
    const log = this.options.log;
    if (loaded.problems.length > 0) {
      const aside = this.registry.setAsideCurrent();
      log?.warn({ problems: loaded.problems, keptAs: aside, using: loaded.from }, 'host replica registry unreadable; recovering replicas from the previous version and /proc');
    }
    const discovered = discoverReplicas(this.options.dataDir);
    if (!discovered && loaded.from === 'unreadable') {
      throw new HostRuntimeStartError(
        `cannot start the host runtime: ${this.registry.file} and its .prev are unreadable (${loaded.problems.join('; ')}) and /proc cannot be scanned for running replicas; stop every replica of this data dir by hand (their pids are in the files set aside), then remove the .prev file`,
      );
    }
    const refs = new Map<string, ObjectRef>();
    const appRef = (namespace: string, name: string): ObjectRef => ({ kind: 'App', namespace, name });
    for (const record of apps) refs.set(key({ namespace: record.namespace, name: record.app }), appRef(record.namespace, record.app));
    for (const record of replicas) {
      const ref = appRef(record.namespace, record.app);
      refs.set(key(ref), ref);
      const app = this.appState(ref, apps.find((a) => a.namespace === record.namespace && a.app === record.app));
      const replica = Replica.adopt(this.replicaInput(app, record.index, record.ports, record), record);
      if (replica) app.replicas.push(replica);
    }
    const adopted = [...this.apps.values()].reduce((n, a) => n + a.replicas.length, 0);
    let unrecorded = 0;
    for (const found of discovered ?? []) {
      const ref = appRef(found.namespace, found.app);
      refs.set(key(ref), ref);
      const app = this.appState(ref);
      if (app.replicas.some((r) => r.identity?.pid === found.pid && r.identity.startTime === found.startTime)) continue;
      this.stopUnrecorded(app, found);
      unrecorded++;
    }
    if (adopted + unrecorded > 0) log?.info({ adopted, stoppedUnrecorded: unrecorded, registry: loaded.from }, 'host runtime found running replicas');
    for (const ref of refs.values()) this.appState(ref);
    this.persist();
    return [...refs.values()];
  }

  /** A replica of this data dir that no registry version describes: stopped, so that its App replaces it. */
  private stopUnrecorded(app: AppState, found: DiscoveredReplica): void {
    const record: ReplicaRecord = {
      namespace: found.namespace,
      app: found.app,
      index: found.index,
      pid: found.pid,
      startTime: found.startTime,
      ports: {},
      templateHash: '',
      releaseKey: '',
      revision: 'unknown',
      startedAt: new Date().toISOString(),
      restarts: 0,
    };
    const replica = Replica.adopt({ ...this.replicaInput(app, found.index, {}, record), onChange: () => undefined }, record);
    if (!replica) return;
    this.options.log?.warn(
      { app: key(app.ref), replica: found.index, pid: found.pid },
      'replica running without a record in host/replicas.json; stopping it (its App starts a replacement)',
    );
    app.replicas.push(replica);
    this.stopReplica(app, replica, 10_000);
  }

  /** One step towards `desired`: starts and stops replicas per the rolling-update plan, then reports. */
  async converge(ref: ObjectRef, desired: DesiredApp): Promise<AppObservation> {
    const app = this.appState(ref);
    const hash = templateHash(desired.template);
    const now = new Date().toISOString();
    if (app.record.templateHash !== hash) app.record = { ...app.record, templateHash: hash, lastProgressAt: now };
    for (const r of app.replicas) if (r.templateHash === hash) r.attachTemplate(desired.template);
    // Adopted replicas of a template nobody can restart any more go away as soon as they exit.
    app.replicas = app.replicas.filter((r) => r.state !== 'Terminated');
    await this.reconcileProxy(app, desired.exposePort, desired.exposeProtocol ?? 'http');
    app.canary = desired.canary ? { templateHash: hash, placement: desired.canary } : undefined;

    const planned = app.replicas.map((r) => ({ index: r.index, updated: r.templateHash === hash, ready: r.ready }));
    const step = desired.canary
      ? planCanary(desired.canary.replicas, planned)
      : planRollout({ desired: desired.replicas, maxSurge: desired.maxSurge, maxUnavailable: desired.maxUnavailable, replicas: planned });
    const actions: string[] = [];
    for (const index of step.stop) {
      const replica = app.replicas.find((r) => r.index === index)!;
      actions.push(`stopping replica ${index} (revision '${replica.input.revision}')`);
      this.stopReplica(app, replica, desired.template.terminationGraceMs);
    }
    for (let i = 0; i < step.start; i++) {
      const index = this.freeIndex(app);
      const ports: Record<string, number> = {};
      for (const name of desired.template.portNames) ports[name] = await freeLoopbackPort();
      const replica = Replica.start(
        this.replicaInput(app, index, ports, { ...desired.template, templateHash: hash }),
        desired.template,
      );
      app.replicas.push(replica);
      actions.push(`started replica ${index} of revision '${desired.template.revision}'`);
      this.persist();
    }
    // Scaling is progress, as a Deployment counts it: the deadline starts over.
    if (actions.length > 0) app.record = { ...app.record, lastProgressAt: new Date().toISOString() };
    this.refreshProxy(app);
    this.persist();
    return { ...this.observe(app, hash, desired), actions };
  }

  /**
   * The App's release for `request`, when it is ready; otherwise starts preparing it in the background (or
   * reports how that goes) and returns at once. A request for another release stops the App's running setup.
   */
  prepareRelease(ref: ObjectRef, request: PreparationRequest): Promise<PreparationProgress> {
    return this.preparations.ensure(ref, request);
  }

  /** The App's processes as they are now, changing nothing (while its next release is being prepared). */
  snapshot(ref: ObjectRef): ReplicaSnapshot {
    const app = this.apps.get(key(ref));
    const replicas = app?.replicas ?? [];
    return {
      replicas: [...replicas, ...(app?.terminating.keys() ?? [])].map((r) => view(r)).sort((a, b) => a.index - b.index),
      total: replicas.length,
      ready: replicas.filter((r) => r.ready).length,
      crashLooping: replicas.filter((r) => r.state === 'CrashLoopBackOff').length,
      exposedAddress: app?.proxy ? `127.0.0.1:${app.proxy.port}` : undefined,
    };
  }

  /** The template whose rollout last completed: a canary's stable side (undefined before the first one). */
  stableTemplateHash(ref: ObjectRef): string | undefined {
    return this.apps.get(key(ref))?.record.completedTemplateHash;
  }

  /**
   * What the App's expose proxy measured per revision (`http` only; empty otherwise): since it started, or
   * with `window` since the last window taken (a canary's analysis takes one per check).
   */
  async trafficStats(ref: ObjectRef, window: boolean): Promise<RevisionCounts[]> {
    const proxy = this.apps.get(key(ref))?.proxy;
    return (await proxy?.revisionStats?.(window)) ?? [];
  }

  /** Every App's per-revision counts since its proxy started (for `/metrics`). */
  async allTrafficStats(): Promise<Array<{ ref: ObjectRef; revisions: RevisionCounts[] }>> {
    const apps = [...this.apps.values()];
    const stats = await Promise.all(apps.map(async (a) => ({ ref: a.ref, revisions: (await a.proxy?.revisionStats?.(false)) ?? [] })));
    return stats.filter((s) => s.revisions.length > 0);
  }

  /** Stops the App's setup and every replica, and forgets them (it was deleted); the caller removes its releases. */
  async remove(ref: ObjectRef): Promise<void> {
    await this.preparations.cancel(ref);
    const app = this.apps.get(key(ref));
    if (!app) return;
    for (const replica of [...app.replicas]) this.stopReplica(app, replica, replica.template?.terminationGraceMs ?? 10_000);
    await Promise.all(app.terminating.values());
    await app.proxy?.close();
    this.apps.delete(key(ref));
    this.persist();
  }

  /** Removes the logs of a deleted App (after {@link remove}: its replicas and their log writers are done). */
  async removeLogs(ref: ObjectRef): Promise<void> {
    await removeAppLogs(this.options.dataDir, ref.namespace, ref.name);
  }

  /** Release keys the App's replicas (running or stopping) still use. */
  releasesInUse(ref: ObjectRef): Set<string> {
    const app = this.apps.get(key(ref));
    return new Set([...(app?.replicas ?? []), ...(app?.terminating.keys() ?? [])].map((r) => r.input.releaseKey));
  }

  /** Stops every App (or, with `leaveRunning`, leaves their processes running for the next engine to adopt). */
  async shutdown({ leaveRunning = false }: { leaveRunning?: boolean } = {}): Promise<void> {
    // A setup is never left running: the next engine prepares the release again.
    await this.preparations.cancelAll();
    const all = [...this.apps.values()];
    if (leaveRunning) {
      for (const app of all) for (const r of [...app.replicas, ...app.terminating.keys()]) r.detach();
      this.persist();
      await Promise.all(all.map(async (app) => app.proxy?.close()));
      return;
    }
    await Promise.all(all.map((app) => this.remove(app.ref)));
  }

  private stopReplica(app: AppState, replica: Replica, graceMs: number): void {
    app.replicas = app.replicas.filter((r) => r !== replica);
    replica.state = 'Terminating';
    this.refreshProxy(app);
    const port = replica.primaryPort;
    const proxy = app.proxy;
    const done = (async () => {
      if (proxy && port !== undefined) await proxy.drain(port, graceMs);
      await replica.terminate(graceMs);
      app.terminating.delete(replica);
      this.persist();
      this.emit(app.ref, { type: 'Normal', reason: 'Killing', message: `stopped replica ${replica.index} of revision '${replica.input.revision}'` });
    })();
    app.terminating.set(replica, done);
  }

  private observe(app: AppState, hash: string, desired: DesiredApp): AppObservation {
    const replicas = app.replicas;
    const updated = replicas.filter((r) => r.templateHash === hash);
    const updatedReady = updated.filter((r) => r.ready).length;
    const complete = updated.length === desired.replicas && updatedReady === desired.replicas && replicas.length === desired.replicas && app.terminating.size === 0;
    const since = Date.parse(app.record.lastProgressAt ?? new Date().toISOString());
    const deadlineInMs = since + desired.progressDeadlineMs - Date.now();
    if (complete && app.record.completedTemplateHash !== hash) app.record = { ...app.record, completedTemplateHash: hash };
    const completedOnce = app.record.completedTemplateHash === hash;
    return {
      ...this.snapshot(app.ref),
      templateHash: hash,
      updated: updated.length,
      updatedReady,
      complete,
      deadlineExceeded: !completedOnce && deadlineInMs <= 0,
      deadlineInMs,
      actions: [],
    };
  }

  private async reconcileProxy(app: AppState, port: number | undefined, protocol: ExposeProtocol): Promise<void> {
    if (app.proxy && (app.proxy.port !== port || app.proxy.protocol !== protocol)) {
      await app.proxy.close();
      app.proxy = undefined;
    }
    if (port !== undefined && !app.proxy) app.proxy = await listenExposeProxy(port, { protocol, owner: `App '${key(app.ref)}'` });
  }

  private refreshProxy(app: AppState): void {
    if (!app.proxy) return;
    const ready = app.replicas.filter((r) => r.ready && r.primaryPort !== undefined);
    const revisions: Record<number, string> = {};
    for (const r of ready) revisions[r.primaryPort!] = r.input.revision;
    const canary = app.canary;
    if (!canary) {
      app.proxy.setBackends(ready.map((r) => r.primaryPort!), { revisions });
      return;
    }
    // A canary: the stable replicas and the canary's, split by the step's weight.
    const isCanary = (r: Replica) => r.templateHash === canary.templateHash;
    const split: TrafficSplit = { canaryPorts: ready.filter(isCanary).map((r) => r.primaryPort!), weight: canary.placement.weight, ...canary.placement.routing };
    app.proxy.setBackends(ready.filter((r) => !isCanary(r)).map((r) => r.primaryPort!), { split, revisions });
  }

  private replicaInput(
    app: AppState,
    index: number,
    ports: Record<string, number>,
    template: Pick<ReplicaRecord, 'templateHash' | 'revision' | 'releaseKey' | 'readinessProbe' | 'livenessProbe'>,
  ) {
    const { namespace, name } = app.ref;
    return {
      namespace,
      app: name,
      index,
      ports,
      templateHash: template.templateHash,
      revision: template.revision,
      releaseKey: template.releaseKey,
      readinessProbe: template.readinessProbe,
      livenessProbe: template.livenessProbe,
      logFile: replicaLogFile(this.options.dataDir, namespace, name, index),
      logLimits: { maxBytes: this.options.logMaxBytes ?? DefaultLogLimits.maxBytes, files: this.options.logMaxFiles ?? DefaultLogLimits.files },
      marker: replicaMarker(this.options.dataDir, namespace, name, index),
      backoff: this.backoff,
      onChange: (event?: ReplicaEvent) => {
        this.refreshProxy(app);
        this.trackProgress(app);
        this.persist();
        this.emit(app.ref, event);
      },
    };
  }

  /** A newly ready replica of the desired template is progress: the deadline starts over. */
  private trackProgress(app: AppState): void {
    const ready = app.replicas.filter((r) => r.templateHash === app.record.templateHash && r.ready).length;
    if (ready > app.lastReady) app.record = { ...app.record, lastProgressAt: new Date().toISOString() };
    app.lastReady = ready;
  }

  private freeIndex(app: AppState): number {
    const used = new Set([...app.replicas, ...app.terminating.keys()].map((r) => r.index));
    let index = 0;
    while (used.has(index)) index++;
    return index;
  }

  private appState(ref: ObjectRef, record?: AppRecord): AppState {
    let app = this.apps.get(key(ref));
    if (!app) {
      app = { ref, replicas: [], terminating: new Map(), record: record ?? { namespace: ref.namespace, app: ref.name }, lastReady: 0 };
      this.apps.set(key(ref), app);
    }
    return app;
  }

  private persist(): void {
    const apps = [...this.apps.values()];
    const replicas = apps.flatMap((a) => [...a.replicas, ...a.terminating.keys()].map((r) => r.record()).filter((r) => r !== undefined));
    this.registry.save(apps.map((a) => a.record), replicas);
  }

  private emit(ref: ObjectRef, event?: ReplicaEvent): void {
    for (const listener of this.listeners) listener(ref, event);
  }
}

function view(r: Replica): ReplicaView {
  return {
    index: r.index,
    pid: r.identity?.pid,
    ports: r.input.ports,
    state: r.state,
    ready: r.ready,
    restarts: r.restarts,
    revision: r.input.revision,
    templateHash: r.templateHash,
    lastExit: r.lastExit,
  };
}
