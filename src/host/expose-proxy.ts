import { connect, createServer, type Server, type Socket } from 'node:net';

/** How long a client connection waits for a ready backend before it is closed. */
const WAIT_FOR_BACKEND_MS = 10_000;

/** The expose port cannot be listened on (taken, or not allowed). */
export class ExposePortError extends Error {
  override name = 'ExposePortError';
  readonly reason = 'ExposeFailed';
}

/**
 * A loopback TCP proxy on a stable port that spreads connections round-robin over the ports of ready
 * replicas. Guarantees: a new connection only goes to a backend in the current set; when connecting to a
 * backend fails before any byte was exchanged, the next backend is tried, so a replica that died a moment ago
 * costs the client nothing; with no backend, a connection waits (up to 10 s) for one. {@link drain} resolves
 * once every connection to a removed backend has closed, so a replica can be stopped without cutting requests.
 */
export class ExposeProxy {
  private backends: number[] = [];
  private next = 0;
  private readonly open = new Map<number, Set<Socket>>();
  private readonly waiting = new Set<() => void>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  /** Listens on 127.0.0.1:`port`; rejects with {@link ExposePortError} when the port is taken. */
  static async listen(port: number, owner = 'App'): Promise<ExposeProxy> {
    const server = createServer({ pauseOnConnect: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => {
        const why = error.code === 'EADDRINUSE' ? 'the port is in use by another process or App' : error.message;
        reject(new ExposePortError(`cannot expose ${owner} on 127.0.0.1:${port}: ${why}`, { cause: error }));
      });
      server.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
        server.removeAllListeners('error');
        resolve();
      });
    });
    const proxy = new ExposeProxy(server, port);
    server.on('connection', (client) => proxy.accept(client));
    return proxy;
  }

  /** Replaces the set of ready backend ports. Connections already open stay where they are. */
  setBackends(ports: readonly number[]): void {
    this.backends = [...ports];
    if (this.backends.length > 0) for (const wake of [...this.waiting]) wake();
  }

  /** Resolves when no connection to `port` is open any more, or after `timeoutMs`. */
  async drain(port: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((this.open.get(port)?.size ?? 0) > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async close(): Promise<void> {
    this.backends = [];
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const sockets of this.open.values()) for (const s of sockets) s.destroy();
    for (const wake of [...this.waiting]) wake();
    await closed;
  }

  private accept(client: Socket): void {
    client.on('error', () => client.destroy());
    const tried = new Set<number>();
    const waitedUntil = Date.now() + WAIT_FOR_BACKEND_MS;
    const attempt = (): void => {
      if (client.destroyed) return;
      const port = this.pick(tried);
      if (port === undefined) {
        if (Date.now() > waitedUntil || !this.server.listening) {
          client.destroy();
          return;
        }
        // Every backend failed or none is ready: wait for the set to change, then try them all again.
        tried.clear();
        const wake = () => {
          this.waiting.delete(wake);
          clearTimeout(timer);
          attempt();
        };
        const timer = setTimeout(wake, 200);
        this.waiting.add(wake);
        return;
      }
      tried.add(port);
      const upstream = connect({ host: '127.0.0.1', port });
      upstream.once('error', () => {
        upstream.destroy();
        attempt();
      });
      upstream.once('connect', () => {
        upstream.removeAllListeners('error');
        this.track(port, upstream);
        upstream.on('error', () => client.destroy());
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    attempt();
  }

  private pick(tried: ReadonlySet<number>): number | undefined {
    const candidates = this.backends.filter((p) => !tried.has(p));
    if (candidates.length === 0) return undefined;
    this.next = (this.next + 1) % candidates.length;
    return candidates[this.next];
  }

  private track(port: number, socket: Socket): void {
    let set = this.open.get(port);
    if (!set) this.open.set(port, (set = new Set()));
    set.add(socket);
    socket.once('close', () => {
      set.delete(socket);
      if (set.size === 0) this.open.delete(port);
    });
  }
}
