import { createServer, type Server, type Socket } from 'node:net';
import { connectLoopback } from './connect-loopback.ts';
import { BackendSet, WAIT_FOR_BACKEND_MS } from './backend-set.ts';
import type { ExposeProxy } from './expose-proxy.ts';
import { listenOnExposePort } from './expose-port.ts';

/**
 * The `tcp` expose proxy: spreads connections round-robin over the ready backends and pipes their bytes.
 * Guarantees: a new connection only goes to a backend in the current set; when connecting to a backend
 * fails, the next one is tried, so a replica that died a moment ago costs the client nothing; with no
 * backend, a connection waits (up to 10 s) for one, then is closed. A connection stays on its backend for
 * its whole life, so {@link drain} resolves once every connection to the backend has closed.
 */
export class TcpExposeProxy implements ExposeProxy {
  readonly protocol = 'tcp';
  private readonly backends = new BackendSet();
  private readonly open = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  /** Listens on 127.0.0.1:`port`; rejects with an ExposePortError when the port is taken. */
  static async listen(port: number, owner: string): Promise<TcpExposeProxy> {
    const server = createServer({ pauseOnConnect: true });
    await listenOnExposePort(server, port, owner);
    const proxy = new TcpExposeProxy(server, port);
    server.on('connection', (client) => void proxy.accept(client));
    return proxy;
  }

  setBackends(ports: readonly number[]): void {
    this.backends.set(ports);
  }

  drain(port: number, timeoutMs: number): Promise<void> {
    return this.backends.idle(port, timeoutMs);
  }

  async close(): Promise<void> {
    this.backends.close();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.open) socket.destroy();
    await closed;
  }

  private async accept(client: Socket): Promise<void> {
    client.on('error', () => client.destroy());
    this.open.add(client);
    client.once('close', () => this.open.delete(client));
    const tried = new Set<number>();
    const deadline = Date.now() + WAIT_FOR_BACKEND_MS;
    for (;;) {
      const port = await this.backends.acquire(tried, deadline);
      if (port === undefined || client.destroyed) {
        if (port !== undefined) this.backends.release(port);
        client.destroy();
        return;
      }
      tried.add(port);
      const upstream = await connectLoopback(port);
      if (!upstream) {
        this.backends.release(port);
        continue;
      }
      this.open.add(upstream);
      upstream.once('close', () => {
        this.open.delete(upstream);
        this.backends.release(port);
        client.destroy();
      });
      upstream.on('error', () => client.destroy());
      client.once('close', () => upstream.destroy());
      if (client.destroyed) upstream.destroy();
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
      return;
    }
  }
}
