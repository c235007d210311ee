import type { ClientRequest, IncomingMessage } from 'node:http';

/** Idempotent methods (RFC 9110 §9.2.2): a retry after part of the body was sent is safe for them. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'TRACE']);

/** The method is idempotent: sending the request again is safe even if a backend saw it. */
export function isIdempotent(method: string | undefined): boolean {
  return IDEMPOTENT.has(method ?? '');
}

/** The request has a body (RFC 9112 §6.3: a `Transfer-Encoding`, or a `Content-Length` other than 0). */
export function hasRequestBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && Number(length) !== 0);
}

/** How much of an idempotent request's body is kept to replay it to another backend. */
const REPLAY_LIMIT_BYTES = 64 * 1024;

/**
 * A client request body streamed to one backend request at a time, with backpressure: the client is read
 * only while the current target accepts more. Guarantees: nothing is read before the first {@link sendTo};
 * {@link replayable} says whether the whole body can still go to another backend — always while no byte
 * was sent, and for idempotent methods while what was sent is at most 64 KiB (kept for the replay; larger
 * bodies stream without being kept).
 */
export class RequestBody {
  private target?: ClientRequest;
  private sent = 0;
  private kept: Buffer[] | undefined;
  private ended = false;

  constructor(private readonly req: IncomingMessage) {
    this.kept = IDEMPOTENT.has(req.method ?? '') ? [] : undefined;
    req.pause();
    req.on('data', (chunk: Buffer) => this.forward(chunk));
    req.on('end', () => {
      this.ended = true;
      this.target?.end();
    });
  }

  get replayable(): boolean {
    return this.sent === 0 || this.kept !== undefined;
  }

  /** Sends the body (what was kept so far, then the rest as it arrives) to `target`, and ends it. */
  sendTo(target: ClientRequest): void {
    this.target = target;
    for (const chunk of this.kept ?? []) target.write(chunk);
    if (this.ended) {
      target.end();
      return;
    }
    target.on('drain', () => {
      if (this.target === target) this.req.resume();
    });
    this.req.resume();
  }

  /** Stops sending to `target` (it failed); the client is not read until the next {@link sendTo}. */
  detach(target: ClientRequest): void {
    if (this.target !== target) return;
    this.target = undefined;
    this.req.pause();
  }

  private forward(chunk: Buffer): void {
    const target = this.target;
    if (!target) {
      this.req.pause();
      this.req.unshift(chunk);
      return;
    }
    this.sent += chunk.length;
    if (this.kept) {
      if (this.sent <= REPLAY_LIMIT_BYTES) this.kept.push(chunk);
      else this.kept = undefined;
    }
    if (!target.write(chunk)) this.req.pause();
  }
}
