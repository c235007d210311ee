import {
  Agent,
  createServer,
  request,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connectLoopback } from './connect-loopback.ts';
import { BackendSet, WAIT_FOR_BACKEND_MS } from './backend-set.ts';
import { listenOnExposePort } from './expose-port.ts';
import { endToEndHeaders, requestHeadersFor } from './forward-headers.ts';
import { RequestBody, hasRequestBody, isIdempotent } from './request-body.ts';
import { RevisionStats } from './canary/revision-stats.ts';
import { chooseSide, type TrafficSplit } from './canary/traffic-split.ts';

/** One request on its way: the client side, what to send, and the backends it already failed on. */
interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly headers: OutgoingHttpHeaders;
  /** The body, streamed (and kept for a replay while small enough); undefined when the request has none. */
  readonly body: RequestBody | undefined;
  readonly idempotent: boolean;
  tried: Set<number> | undefined;
  deadline: number;
  /** Sent to a canary backend (see {@link TrafficSplit}). */
  readonly canary: boolean;
  /** A pinning cookie to set on the answer. */
  readonly setCookie: string | undefined;
  /** `performance.now()` when the request arrived: its latency is measured to the end of the answer. */
  readonly started: number;
}

/**
 * The HTTP forwarding of an `http` expose proxy: an HTTP/1.1 server on 127.0.0.1 that forwards each request
 * to a ready backend (chosen per request, round-robin) over a keep-alive agent per backend. It runs on the
 * thread that creates it: {@link HttpExposeProxy} runs it on the forwarding thread, off the engine's event
 * loop. Client connections stay with the forwarder, so a backend leaving the set gets no further request even
 * from a keep-alive client. Guarantees: bodies stream both ways with backpressure; hop-by-hop fields are not
 * forwarded, `X-Forwarded-For/Proto/Host` are added; a request goes to the next backend when its backend
 * refused the connection, or reset a reused one before answering (for an idempotent method: failed in any
 * way before answering), as long as its body can still be replayed (see {@link RequestBody}); with no
 * backend, a request waits up to 10 s, then gets 503. Upgrade requests (WebSocket) are tunnelled to one
 * backend. {@link drain} resolves once no request (or tunnel) is in flight on the backend, then closes its
 * idle connections.
 */
export class HttpForwarder {
  private readonly backends = new BackendSet();
  /** Per-revision answers and latency, for a canary's analysis and `/metrics`. */
  readonly stats = new RevisionStats();
  private split: TrafficSplit | undefined;
  private readonly agents = new Map<number, Agent>();
  private readonly tunnels = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly owner: string,
  ) {}

  /** Listens on 127.0.0.1:`port`; rejects with an ExposePortError when the port is taken. */
  static async listen(port: number, owner: string): Promise<HttpForwarder> {
    // No request timeout: a slow upload or a long poll is the app's business, not the proxy's.
    const server = createServer({ requestTimeout: 0 });
    await listenOnExposePort(server, port, owner);
    const forwarder = new HttpForwarder(server, port, owner);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => forwarder.forward(req, res));
    server.on(
      'upgrade',
      (req: IncomingMessage, socket: Duplex, head: Buffer) => void forwarder.tunnel(req, socket, head),
    );
    return forwarder;
  }

  /**
   * The ready backends; with `split`, `ports` are the stable ones and the split's canary ports get its share
   * of the requests. `revisions` names the revision of each port, for the per-revision counts.
   */
  setBackends(
    ports: readonly number[],
    split?: TrafficSplit,
    revisions?: Readonly<Record<number, string>>,
  ): void {
    this.split = split && split.canaryPorts.length > 0 ? split : undefined;
    this.backends.set(ports, this.split?.canaryPorts);
    if (revisions) this.stats.label(revisions);
  }

  async drain(port: number, timeoutMs: number): Promise<void> {
    await this.backends.idle(port, timeoutMs);
    if (this.backends.has(port)) return;
    this.agents.get(port)?.destroy();
    this.agents.delete(port);
  }

  async close(): Promise<void> {
    this.backends.close();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    for (const socket of this.tunnels) socket.destroy();
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
    await closed;
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    const side = this.split ? chooseSide(this.split, req.headers) : undefined;
    const exchange: Exchange = {
      req,
      res,
      headers: requestHeadersFor(req),
      body: hasRequestBody(req) ? new RequestBody(req) : undefined,
      idempotent: isIdempotent(req.method),
      tried: undefined,
      deadline: 0,
      canary: side?.side === 'canary',
      setCookie: side?.setCookie,
      started: performance.now(),
    };
    this.next(exchange);
  }

  /** Sends the exchange to a backend it has not tried yet: at once when there is one, else after waiting. */
  private next(exchange: Exchange): void {
    if (exchange.res.destroyed) return;
    const port = this.backends.take(exchange.tried, exchange.canary);
    if (port !== undefined) this.attempt(port, exchange);
    else void this.waitForBackend(exchange);
  }

  private async waitForBackend(exchange: Exchange): Promise<void> {
    exchange.tried ??= new Set();
    if (exchange.deadline === 0) exchange.deadline = Date.now() + WAIT_FOR_BACKEND_MS;
    const port = await this.backends.acquire(exchange.tried, exchange.deadline, exchange.canary);
    const { res } = exchange;
    if (res.destroyed) {
      if (port !== undefined) this.backends.release(port);
      return;
    }
    if (port === undefined) {
      const message = `no ready replica of ${this.owner} behind 127.0.0.1:${this.port}\n`;
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '1' }).end(message);
      return;
    }
    this.attempt(port, exchange);
  }

  /** One try on `port`; on a failure before any response that allows it, the exchange goes to {@link next}. */
  private attempt(port: number, exchange: Exchange): void {
    const { req, res, body } = exchange;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.backends.release(port);
    };
    let connected = false;
    let responded = false;
    const upstream = request({
      host: '127.0.0.1',
      port,
      method: req.method,
      path: req.url,
      headers: exchange.headers,
      agent: this.agent(port),
    });
    if (body) {
      upstream.on('socket', (socket: Socket) => {
        const start = () => {
          connected = true;
          body.sendTo(upstream);
        };
        if (socket.connecting) socket.once('connect', start);
        else start();
      });
    } else {
      // Without a body, only a non-idempotent request needs to know whether it may have reached the backend.
      if (!exchange.idempotent)
        upstream.on('socket', (socket: Socket) => {
          if (socket.connecting) socket.once('connect', () => (connected = true));
          else connected = true;
        });
      upstream.end();
    }
    upstream.on('response', (answer: IncomingMessage) => {
      responded = true;
      const status = answer.statusCode ?? 502;
      const headers = endToEndHeaders(answer.rawHeaders);
      if (exchange.setCookie)
        headers['set-cookie'] = [...[headers['set-cookie'] ?? []].flat(), exchange.setCookie];
      res.writeHead(status, answer.statusMessage, headers);
      answer.pipe(res);
      answer.once('end', () => {
        this.stats.record(port, status, performance.now() - exchange.started);
        release();
      });
      answer.once('close', () => {
        release();
        if (!answer.complete) res.destroy();
      });
    });
    upstream.on('error', () => {
      body?.detach(upstream);
      release();
      if (responded) return;
      // Not sent, or sent on a kept-alive connection the backend had closed, or safe to send again anyway.
      const replayable = body === undefined || body.replayable;
      if ((!connected || upstream.reusedSocket || exchange.idempotent) && replayable && !res.destroyed) {
        (exchange.tried ??= new Set()).add(port);
        this.next(exchange);
        return;
      }
      this.stats.record(port, 502, performance.now() - exchange.started);
      if (!res.headersSent)
        res
          .writeHead(502, { 'content-type': 'text/plain; charset=utf-8' })
          .end(`replica of ${this.owner} failed to answer\n`);
      else res.destroy();
    });
    // The client went away before its response was complete: stop the backend request too.
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
  }

  /** Pipes an upgrade request (WebSocket) and everything after it to one backend, at TCP level. */
  private async tunnel(req: IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
    client.on('error', () => client.destroy());
    const tried = new Set<number>();
    const deadline = Date.now() + WAIT_FOR_BACKEND_MS;
    for (;;) {
      const port = await this.backends.acquire(tried, deadline);
      if (port === undefined) {
        client.end('HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
        return;
      }
      tried.add(port);
      const upstream = await connectLoopback(port);
      if (!upstream || client.destroyed) {
        upstream?.destroy();
        this.backends.release(port);
        if (client.destroyed) return;
        continue;
      }
      this.tunnels.add(upstream);
      upstream.once('close', () => {
        this.tunnels.delete(upstream);
        this.backends.release(port);
        client.destroy();
      });
      upstream.on('error', () => client.destroy());
      client.once('close', () => upstream.destroy());
      upstream.write(requestHead(req));
      if (head.length > 0) upstream.write(head);
      client.pipe(upstream);
      upstream.pipe(client);
      return;
    }
  }

  private agent(port: number): Agent {
    let agent = this.agents.get(port);
    if (!agent) this.agents.set(port, (agent = new Agent({ keepAlive: true, scheduling: 'lifo' })));
    return agent;
  }
}

/** The request line and fields of an upgrade request, as received, plus `X-Forwarded-For`. */
function requestHead(req: IncomingMessage): string {
  const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]!.toLowerCase() !== 'x-forwarded-for')
      lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
  }
  const before = req.headers['x-forwarded-for'];
  const client = req.socket.remoteAddress ?? '127.0.0.1';
  lines.push(`x-forwarded-for: ${before ? `${String(before)}, ${client}` : client}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}
