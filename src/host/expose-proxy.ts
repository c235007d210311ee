import { HttpExposeProxy } from './http-expose-proxy.ts';
import { TcpExposeProxy } from './tcp-expose-proxy.ts';
import type { RevisionCounts } from './canary/revision-stats.ts';
import type { TrafficSplit } from './canary/traffic-split.ts';

export { ExposePortError } from './expose-port.ts';

/** How an App's expose port forwards: per HTTP request (`http`, the default) or per TCP connection (`tcp`). */
export type ExposeProtocol = 'http' | 'tcp';

/**
 * A loopback proxy on an App's stable expose port, spreading load over the ports of its ready replicas.
 * Guarantees of every mode: only backends of the current set get new work; a backend that refuses a
 * connection costs the client nothing (the next one is tried); with no backend, a client waits up to 10 s.
 */
export interface ExposeProxy {
  readonly port: number;
  readonly protocol: ExposeProtocol;
  /**
   * Replaces the set of ready backend ports; a removed backend gets no new request or connection. `http`
   * only: `traffic.split` sends a canary its share (`ports` are then the stable ones), `traffic.revisions`
   * names each port's revision for the per-revision counts.
   */
  setBackends(ports: readonly number[], traffic?: BackendTraffic): void;
  /** `http` only: per-revision counts since the proxy started, or (`window`) since the last window taken. */
  revisionStats?(window: boolean): Promise<RevisionCounts[]>;
  /**
   * Resolves once nothing the proxy sent to `port` is in flight any more (http: no request awaiting or
   * receiving its response; tcp: no open connection), or after `timeoutMs`.
   */
  drain(port: number, timeoutMs: number): Promise<void>;
  /** Stops listening and cuts whatever is still open. */
  close(): Promise<void>;
}

/** What an `http` proxy does with its backends beyond spreading the load. */
export interface BackendTraffic {
  split?: TrafficSplit;
  revisions?: Readonly<Record<number, string>>;
}

/** Listens on 127.0.0.1:`port` in `protocol` mode; rejects with {@link ExposePortError} when the port is taken. */
export function listenExposeProxy(
  port: number,
  { protocol = 'http', owner = 'App' }: { protocol?: ExposeProtocol; owner?: string } = {},
): Promise<ExposeProxy> {
  return protocol === 'tcp' ? TcpExposeProxy.listen(port, owner) : HttpExposeProxy.listen(port, owner);
}
