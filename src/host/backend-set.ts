/** How long a client waits for a ready backend before the proxy gives up on it. */
export const WAIT_FOR_BACKEND_MS = 10_000;

/** While every backend failed for a client, how often it tries them all again if the set does not change. */
const RETRY_ALL_MS = 200;

/**
 * The ready backend ports of one expose proxy, with what is in flight on each. Guarantees: {@link take} and
 * {@link acquire} hand out only ports of the current set, round-robin, one per call (so a choice is made per
 * request), and counts the use until {@link release}; a port
 * removed from the set is never handed out again; {@link idle} resolves the moment a port's count reaches
 * zero (event-driven, no polling), or at its timeout.
 */
export class BackendSet {
  private ports: number[] = [];
  /** A canary's backends: handed out only to requests asking for that side (then the others as a fallback). */
  private canary: number[] = [];
  private next = 0;
  private nextCanary = 0;
  private closed = false;
  private readonly inFlight = new Map<number, number>();
  private readonly changeWaiters = new Set<() => void>();
  private readonly idleWaiters = new Map<number, Set<() => void>>();

  /** Replaces the set (and the canary's backends); clients waiting for a backend try again at once. */
  set(ports: readonly number[], canary: readonly number[] = []): void {
    this.ports = [...ports];
    this.canary = [...canary];
    for (const wake of [...this.changeWaiters]) wake();
  }

  has(port: number): boolean {
    return this.ports.includes(port) || this.canary.includes(port);
  }

  /**
   * A backend not in `tried`, counted as in use; when none is left, waits for the set to change (every
   * backend is then tried again) until `deadline` (epoch ms). Undefined after the deadline or once closed.
   */
  async acquire(tried: Set<number>, deadline: number, canary = false): Promise<number | undefined> {
    for (;;) {
      if (this.closed) return undefined;
      const port = this.take(tried, canary);
      if (port !== undefined) return port;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await this.changed(Math.min(left, RETRY_ALL_MS));
      tried.clear();
    }
  }

  /**
   * Without waiting: a backend not in `tried` (round-robin), counted as in use, or undefined when there is
   * none. The per-request fast path; {@link acquire} is the waiting one. With `canary`, a canary backend
   * first; either way the other side's backends when the asked one has none left.
   */
  take(tried?: ReadonlySet<number>, canary = false): number | undefined {
    if (this.closed) return undefined;
    if (this.canary.length === 0) return this.takeStable(tried);
    return canary
      ? (this.takeCanary(tried) ?? this.takeStable(tried))
      : (this.takeStable(tried) ?? this.takeCanary(tried));
  }

  private takeStable(tried: ReadonlySet<number> | undefined): number | undefined {
    const ports = this.ports;
    for (let i = 0; i < ports.length; i++) {
      this.next = (this.next + 1) % ports.length;
      const port = ports[this.next]!;
      if (tried?.has(port)) continue;
      this.inFlight.set(port, (this.inFlight.get(port) ?? 0) + 1);
      return port;
    }
    return undefined;
  }

  private takeCanary(tried: ReadonlySet<number> | undefined): number | undefined {
    const ports = this.canary;
    for (let i = 0; i < ports.length; i++) {
      this.nextCanary = (this.nextCanary + 1) % ports.length;
      const port = ports[this.nextCanary]!;
      if (tried?.has(port)) continue;
      this.inFlight.set(port, (this.inFlight.get(port) ?? 0) + 1);
      return port;
    }
    return undefined;
  }

  /** Ends one use of `port` handed out by {@link acquire} or {@link take}. */
  release(port: number): void {
    const count = (this.inFlight.get(port) ?? 0) - 1;
    if (count > 0) {
      this.inFlight.set(port, count);
      return;
    }
    this.inFlight.delete(port);
    for (const wake of [...(this.idleWaiters.get(port) ?? [])]) wake();
  }

  /** Resolves when nothing is in flight on `port`, or after `timeoutMs`. */
  idle(port: number, timeoutMs: number): Promise<void> {
    if (!this.inFlight.has(port)) return Promise.resolve();
    return new Promise((resolve) => {
      let waiters = this.idleWaiters.get(port);
      if (!waiters) this.idleWaiters.set(port, (waiters = new Set()));
      const wake = () => {
        clearTimeout(timer);
        waiters.delete(wake);
        if (waiters.size === 0) this.idleWaiters.delete(port);
        resolve();
      };
      const timer = setTimeout(wake, timeoutMs);
      waiters.add(wake);
    });
  }

  /** Empties the set for good: waiting clients get no backend, idle waiters resolve. */
  close(): void {
    this.closed = true;
    this.set([]);
    for (const waiters of [...this.idleWaiters.values()]) for (const wake of [...waiters]) wake();
  }

  private changed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.changeWaiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.changeWaiters.add(wake);
    });
  }
}
