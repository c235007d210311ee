import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { KubeApiError } from '../apply/errors.ts';
import type { KubeRest } from '../apply/kube-rest.ts';
import type { Logger } from './logger.ts';

/** Where the lease lives unless told otherwise, as `kedge install` sets it up. */
export const DefaultLease = { namespace: 'kedge-system', name: 'kedge-leader' } as const;

/** Why leading stopped: the lease could not be renewed in time or another holder took it, or `stop()` released it. */
export type StoppedLeadingReason = 'lost' | 'released';

/** Timings of the election; controller-runtime's defaults. */
export interface LeaderElectionTimings {
  /** How long followers wait after the last renewal they saw before taking the lease. Default 15 s. */
  leaseDurationMs?: number;
  /** How long the leader keeps trying to renew before it stops leading. Default 10 s. */
  renewDeadlineMs?: number;
  /** Wait between attempts to acquire or renew. Default 2 s. */
  retryPeriodMs?: number;
}

/** Options of a {@link LeaderElector}. */
export interface LeaderElectorOptions extends LeaderElectionTimings {
  rest: KubeRest;
  /** The `coordination.k8s.io/v1` Lease. Default `kedge-system/kedge-leader`. */
  lease?: { namespace: string; name: string };
  /** This candidate's identity. Default `<hostname>_<pid>_<random hex>`, unique per process. */
  identity?: string;
  /** Called once this candidate holds the lease. */
  onStartedLeading(): void | Promise<void>;
  /**
   * Called once when a leader stops leading: at once when a renewal failed past the renew deadline or another
   * holder is seen ('lost'); on `stop()` before the lease is released ('released'), which waits for it to return
   * so that the next leader never overlaps with work this one is still finishing.
   */
  onStoppedLeading(reason: StoppedLeadingReason): void | Promise<void>;
  /** Called when the observed holder changes (including to this candidate). */
  onNewLeader?(identity: string): void;
  log?: Logger;
}

/** `spec` of a coordination.k8s.io/v1 Lease. */
interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: LeaseSpec;
}

/** Default timings (controller-runtime's). */
export const DefaultLeaderElectionTimings = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
} as const;

/** Retries wait between 1× and 2.2× the retry period (client-go's jitter factor 1.2), so candidates do not march in step. */
const JitterFactor = 1.2;

/**
 * Leader election on a Lease, with client-go's semantics: optimistic updates on `resourceVersion`; a lease is
 * free when its holder is empty or when its record has not changed for the lease duration on this process's
 * own clock (observed time, so clocks of different machines never matter); the leader renews every retry
 * period. Stricter than client-go in one respect: a leader that sees another holder stops leading at once
 * rather than at the renew deadline. A leader that stopped leading because it lost the lease does not run
 * for it again: `done` resolves, as controller-runtime's manager ends (start a new elector to run again).
 */
export class LeaderElector {
  readonly identity: string;
  readonly lease: { namespace: string; name: string };
  /** Resolves when the elector ended: after `stop()`, or after it lost the lease. */
  readonly done: Promise<StoppedLeadingReason | 'stopped'>;
  readonly #options: LeaderElectorOptions;
  readonly #timings: Required<LeaderElectionTimings>;
  readonly #stop = new AbortController();
  #resolveDone!: (reason: StoppedLeadingReason | 'stopped') => void;
  #running: Promise<void> | undefined;
  #leading = false;
  #observed: { spec: string; at: number; holder: string } | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: LeaderElectorOptions) {
    this.#options = options;
    this.#timings = { ...DefaultLeaderElectionTimings, ...definedOnly(options) };
    validateTimings(this.#timings);
    this.lease = options.lease ?? DefaultLease;
    this.identity = options.identity ?? defaultIdentity();
    this.done = new Promise((resolve) => (this.#resolveDone = resolve));
  }

  /** True while this candidate holds the lease (and has not seen it lost). */
  get isLeader(): boolean {
    return this.#leading;
  }

  /** The holder this candidate last saw in the Lease ('' when it is free or not read yet). */
  get leader(): string {
    return this.#observed?.holder ?? '';
  }

  /** Starts running for the lease in the background. */
  start(): void {
    this.#running ??= this.#run().catch((error: unknown) => {
      this.#options.log?.error({ err: error }, `leader election ended: ${(error as Error).message}`);
    });
  }

  /**
   * Ends the election: a leader stops leading (`onStoppedLeading('released')`, awaited), then releases the
   * lease (holder cleared, duration 1 s, as client-go's ReleaseOnCancel) so that a follower takes over at its
   * next attempt instead of after the lease duration.
   */
  stop(): Promise<void> {
    return (this.#stopping ??= (async () => {
      this.#stop.abort();
      await this.#running;
      const wasLeading = this.#leading;
      if (wasLeading) {
        this.#leading = false;
        await this.#options.onStoppedLeading('released');
        await this.#release();
      }
      this.#resolveDone('stopped');
    })());
  }

  async #run(): Promise<void> {
    const log = this.#options.log;
    if (!(await this.#acquire())) return;
    this.#leading = true;
    log?.info(
      { lease: `${this.lease.namespace}/${this.lease.name}`, identity: this.identity },
      'leader election won: leading',
    );
    void Promise.resolve()
      .then(() => this.#options.onStartedLeading())
      .catch((error: unknown) =>
        log?.error({ err: error }, `starting to lead failed: ${(error as Error).message}`),
      );
    const lost = await this.#renewUntilLost();
    if (!lost) return; // stop(): it releases
    this.#leading = false;
    log?.warn({ lease: `${this.lease.namespace}/${this.lease.name}` }, `leader election lost: ${lost}`);
    try {
      await this.#options.onStoppedLeading('lost');
    } finally {
      this.#resolveDone('lost');
    }
  }

  /** Tries until the lease is held; false when stopped first. */
  async #acquire(): Promise<boolean> {
    for (;;) {
      if (this.#stop.signal.aborted) return false;
      const attempt = await this.#tryAcquireOrRenew(this.#stop.signal).catch((error: unknown) => {
        if (!this.#stop.signal.aborted)
          this.#options.log?.debug({ err: error }, `cannot acquire the lease: ${(error as Error).message}`);
        return { held: false, by: '' };
      });
      if (attempt.held) return true;
      await sleep(jittered(this.#timings.retryPeriodMs), this.#stop.signal);
    }
  }

  /**
   * Renews every retry period. Returns why leading was lost, or undefined when stopped. Each attempt may only
   * take until the renew deadline (last successful renewal + renew deadline), so a hung request cannot delay
   * the loss.
   */
  async #renewUntilLost(): Promise<string | undefined> {
    let renewedAt = Date.now();
    for (;;) {
      await sleep(this.#timings.retryPeriodMs, this.#stop.signal);
      if (this.#stop.signal.aborted) return undefined;
      const deadline = renewedAt + this.#timings.renewDeadlineMs;
      const remaining = deadline - Date.now();
      if (remaining <= 0) return `the lease could not be renewed within ${this.#timings.renewDeadlineMs} ms`;
      const signal = AbortSignal.any([this.#stop.signal, AbortSignal.timeout(remaining)]);
      const attempt = await this.#tryAcquireOrRenew(signal).catch((error: unknown) => {
        if (!this.#stop.signal.aborted)
          this.#options.log?.warn({ err: error }, `cannot renew the lease: ${(error as Error).message}`);
        return { held: false, by: '' };
      });
      if (this.#stop.signal.aborted) return undefined;
      if (attempt.held) renewedAt = Date.now();
      else if (attempt.by !== '' && attempt.by !== this.identity) return `the lease is held by ${attempt.by}`;
      else if (Date.now() >= deadline)
        return `the lease could not be renewed within ${this.#timings.renewDeadlineMs} ms`;
    }
  }

  /** One attempt: read the Lease, and create, take or renew it when this candidate may. */
  async #tryAcquireOrRenew(signal: AbortSignal): Promise<{ held: boolean; by: string }> {
    const path = leasePath(this.lease);
    const rest = this.#options.rest;
    const now = new Date();
    let current: Lease;
    try {
      current = await rest.request<Lease>('GET', path, { signal });
    } catch (error) {
      if (!(error instanceof KubeApiError) || error.code !== 404) throw error;
      const created = await rest
        .request<Lease>('POST', collectionPath(this.lease), { body: this.#leaseFor(undefined, now), signal })
        .catch((e: unknown) => {
          if (e instanceof KubeApiError && e.code === 409) return undefined; // another candidate created it first
          throw e;
        });
      if (!created) return { held: false, by: '' };
      this.#observe(created.spec ?? {});
      return { held: true, by: this.identity };
    }
    const spec = current.spec ?? {};
    this.#observe(spec);
    const holder = spec.holderIdentity ?? '';
    const observedAt = this.#observed?.at ?? now.getTime();
    const durationMs = (spec.leaseDurationSeconds ?? 0) * 1000;
    if (holder !== '' && holder !== this.identity && observedAt + durationMs > now.getTime())
      return { held: false, by: holder };
    try {
      const updated = await rest.request<Lease>('PUT', path, { body: this.#leaseFor(current, now), signal });
      this.#observe(updated.spec ?? {});
      return { held: true, by: this.identity };
    } catch (error) {
      if (error instanceof KubeApiError && error.code === 409) return { held: false, by: '' };
      throw error;
    }
  }

  /** Records the Lease's record and when it last changed (on this process's clock). */
  #observe(spec: LeaseSpec): void {
    const print = JSON.stringify([
      spec.holderIdentity ?? '',
      spec.renewTime,
      spec.acquireTime,
      spec.leaseDurationSeconds,
      spec.leaseTransitions,
    ]);
    if (this.#observed?.spec === print) return;
    const holder = spec.holderIdentity ?? '';
    const changedHolder = this.#observed?.holder !== holder;
    this.#observed = { spec: print, at: Date.now(), holder };
    if (changedHolder && holder !== '') this.#options.onNewLeader?.(holder);
  }

  /** The Lease with this candidate as holder: renewing keeps acquire time and transitions, taking over counts one. */
  #leaseFor(current: Lease | undefined, now: Date): Lease {
    const previous = current?.spec ?? {};
    const renewing = previous.holderIdentity === this.identity;
    const time = microTime(now);
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        ...this.lease,
        ...(current?.metadata.resourceVersion ? { resourceVersion: current.metadata.resourceVersion } : {}),
      },
      spec: {
        holderIdentity: this.identity,
        leaseDurationSeconds: Math.ceil(this.#timings.leaseDurationMs / 1000),
        acquireTime: renewing && previous.acquireTime ? previous.acquireTime : time,
        renewTime: time,
        leaseTransitions: current === undefined ? 0 : (previous.leaseTransitions ?? 0) + (renewing ? 0 : 1),
      },
    };
  }

  /** Clears the holder if it is still this candidate; a conflict or a failure leaves it to expire. */
  async #release(): Promise<void> {
    const rest = this.#options.rest;
    const path = leasePath(this.lease);
    try {
      const current = await rest.request<Lease>('GET', path, {
        signal: AbortSignal.timeout(this.#timings.renewDeadlineMs),
      });
      if (current.spec?.holderIdentity !== this.identity) return;
      const time = microTime(new Date());
      await rest.request('PUT', path, {
        body: {
          ...current,
          spec: {
            leaseDurationSeconds: 1,
            acquireTime: time,
            renewTime: time,
            leaseTransitions: current.spec.leaseTransitions ?? 0,
          },
        },
        signal: AbortSignal.timeout(this.#timings.renewDeadlineMs),
      });
      this.#options.log?.info(
        { lease: `${this.lease.namespace}/${this.lease.name}` },
        'leader election: lease released',
      );
    } catch (error) {
      this.#options.log?.warn(
        { err: error },
        `cannot release the lease, it expires on its own: ${(error as Error).message}`,
      );
    }
  }
}

/** `<hostname>_<pid>_<8 random hex>`: unique per process, and says where the leader runs. */
export function defaultIdentity(): string {
  return `${hostname()}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

/** client-go's rules: lease duration > renew deadline > retry period × jitter factor, all positive. */
function validateTimings(t: Required<LeaderElectionTimings>): void {
  if (!(t.retryPeriodMs > 0))
    throw new Error(`leader election: retry period must be positive, not ${t.retryPeriodMs} ms`);
  if (!(t.leaseDurationMs > t.renewDeadlineMs))
    throw new Error(
      `leader election: lease duration (${t.leaseDurationMs} ms) must be longer than the renew deadline (${t.renewDeadlineMs} ms)`,
    );
  if (!(t.renewDeadlineMs > JitterFactor * t.retryPeriodMs))
    throw new Error(
      `leader election: renew deadline (${t.renewDeadlineMs} ms) must be longer than ${JitterFactor} × the retry period (${t.retryPeriodMs} ms)`,
    );
}

function definedOnly(t: LeaderElectionTimings): LeaderElectionTimings {
  return Object.fromEntries(
    (['leaseDurationMs', 'renewDeadlineMs', 'retryPeriodMs'] as const)
      .filter((k) => t[k] !== undefined)
      .map((k) => [k, t[k]]),
  );
}

function collectionPath(lease: { namespace: string }): string {
  return `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(lease.namespace)}/leases`;
}

function leasePath(lease: { namespace: string; name: string }): string {
  return `${collectionPath(lease)}/${encodeURIComponent(lease.name)}`;
}

/** Kubernetes MicroTime: RFC 3339 with exactly six fractional digits. */
function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

function jittered(ms: number): number {
  return ms * (1 + Math.random() * JitterFactor);
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
