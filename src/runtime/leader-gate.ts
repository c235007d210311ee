import type { KubeConfig } from '@kubernetes/client-node';
import type { LeaderElectionTimings, LeaderElector } from './leader-election.ts';
import type { Logger } from './logger.ts';
import type { EngineMetrics } from './metrics.ts';

/** `EngineSettings.leaderElection`: run the controllers only while this instance holds the Lease. */
export interface LeaderElectionSettings extends LeaderElectionTimings {
  /** Cluster of the Lease. Default: the engine's `kubeconfig` file, else as the store finds it (`storeKubeConfig`: in-cluster, KUBECONFIG, ~/.kube/config). */
  kubeConfig?: KubeConfig;
  /**
   * Default `kedge-leader` in the namespace Kedge runs in: `RUNTIME_NAMESPACE` (set by `kedge install`'s
   * Deployment, as Flux's are), else `kedge-system`.
   */
  lease?: { namespace: string; name: string };
  /** Default `<hostname>_<pid>_<random hex>`. */
  identity?: string;
  /**
   * Called after this instance lost the lease and its controllers stopped. It never runs for the lease again;
   * `kedge up` exits non-zero here, as controller-runtime's managers do, so that its restart becomes a follower.
   */
  onLost?: () => void;
}

/** Where an instance stands in the election, for `/readyz` and logs. */
export type Leadership = 'follower' | 'leader' | 'lost' | 'stopped';

/** The engine's side of leader election: its controllers run between started and stopped leading. */
export interface LeaderGate {
  readonly elector: LeaderElector;
  leadership(): Leadership;
  /** Stops leading (controllers stopped within `graceMs`), releases the lease, ends the election. */
  stop(): Promise<void>;
}

/** What the gate switches on and off. */
export interface GatedControllers {
  /** Start reconciling (the Manager's controllers). */
  start(): Promise<void>;
  /** Stop reconciling: after `graceMs` in-flight reconciles are aborted (0: at once). */
  stop(graceMs: number): Promise<void>;
}

/**
 * Runs for the Lease and switches the controllers with it: started on `onStartedLeading`, stopped at once
 * (in-flight reconciles aborted) when the lease is lost, stopped gracefully on `stop()` before the lease is
 * released. Transitions run one after another, so a loss during a start waits for the start, then stops.
 */
export async function startLeaderGate(
  settings: LeaderElectionSettings,
  defaultKubeconfig: string | undefined,
  controllers: GatedControllers,
  options: { metrics: EngineMetrics; log: Logger; shutdownGraceMs: number },
): Promise<LeaderGate> {
  const [{ LeaderElector, DefaultLease }, { KubeRest }, { storeKubeConfig }] = await Promise.all([
    import('./leader-election.ts'),
    import('../apply/kube-rest.ts'),
    import('../store/kubernetes/store-kubeconfig.ts'),
  ]);
  const rest = new KubeRest(settings.kubeConfig ?? storeKubeConfig({ kubeconfig: defaultKubeconfig }));
  const { log, metrics } = options;
  let state: Leadership = 'follower';
  let transitions = Promise.resolve();
  const serially = (step: () => Promise<void>): Promise<void> =>
    (transitions = transitions
      .then(step)
      .catch((error: unknown) => log.error({ err: error }, `leader election: ${(error as Error).message}`)));
  const elector: LeaderElector = new LeaderElector({
    rest,
    lease: settings.lease ?? {
      ...DefaultLease,
      namespace: process.env.RUNTIME_NAMESPACE || DefaultLease.namespace,
    },
    identity: settings.identity,
    leaseDurationMs: settings.leaseDurationMs,
    renewDeadlineMs: settings.renewDeadlineMs,
    retryPeriodMs: settings.retryPeriodMs,
    log,
    onNewLeader: (identity) =>
      log.info(
        { leader: identity },
        identity === elector.identity ? 'this instance leads' : `following leader ${identity}`,
      ),
    onStartedLeading: () =>
      serially(async () => {
        if (state !== 'follower') return;
        state = 'leader';
        metrics.leaderStatus.set({ name: elector.lease.name }, 1);
        await controllers.start();
      }),
    onStoppedLeading: (reason) =>
      serially(async () => {
        metrics.leaderStatus.set({ name: elector.lease.name }, 0);
        state = reason === 'lost' ? 'lost' : 'stopped';
        await controllers.stop(reason === 'lost' ? 0 : options.shutdownGraceMs);
        if (reason === 'lost') settings.onLost?.();
      }),
  });
  metrics.leaderStatus.set({ name: elector.lease.name }, 0);
  elector.start();
  log.info(
    { lease: `${elector.lease.namespace}/${elector.lease.name}`, identity: elector.identity },
    'running for leader; controllers start when this instance leads',
  );
  let stopping: Promise<void> | undefined;
  return {
    elector,
    leadership: () => state,
    stop: () =>
      (stopping ??= (async () => {
        await elector.stop();
        await transitions;
        if (state === 'follower') state = 'stopped';
        rest.close();
      })()),
  };
}
