import type { BackendTraffic, ExposeProxy } from './expose-proxy.ts';
import type { RevisionCounts } from './canary/revision-stats.ts';
import { ExposePortError } from './expose-port.ts';
import { ForwardingThread } from './forwarding-thread.ts';

/**
 * The `http` expose proxy, as the engine sees it: an {@link HttpForwarder} (see there for what it guarantees:
 * per-request backend choice among the ready replicas, forwarded fields, streaming, retries, upgrades,
 * draining) that runs on the {@link ForwardingThread}, off the engine's event loop. Backend changes are
 * sent in order, so a {@link drain} always sees the set given by every earlier {@link setBackends}.
 */
export class HttpExposeProxy implements ExposeProxy {
  readonly protocol = 'http';

  private constructor(
    private readonly thread: ForwardingThread,
    private readonly id: number,
    readonly port: number,
  ) {}

  /** Listens on 127.0.0.1:`port`; rejects with an ExposePortError when the port is taken. */
  static async listen(port: number, owner: string): Promise<HttpExposeProxy> {
    const thread = ForwardingThread.get();
    const id = thread.newId();
    try {
      await thread.call({ op: 'listen', id, port, owner });
    } catch (error) {
      await thread.call({ op: 'close', id });
      throw new ExposePortError((error as Error).message, { cause: error });
    }
    return new HttpExposeProxy(thread, id, port);
  }

  setBackends(ports: readonly number[], traffic?: BackendTraffic): void {
    this.thread.send({
      op: 'backends',
      id: this.id,
      ports: [...ports],
      split: traffic?.split,
      revisions: traffic?.revisions,
    });
  }

  async revisionStats(window: boolean): Promise<RevisionCounts[]> {
    return (await this.thread.call<RevisionCounts[] | undefined>({ op: 'stats', id: this.id, window })) ?? [];
  }

  drain(port: number, timeoutMs: number): Promise<void> {
    return this.thread.call({ op: 'drain', id: this.id, port, timeoutMs });
  }

  close(): Promise<void> {
    return this.thread.call({ op: 'close', id: this.id });
  }
}
