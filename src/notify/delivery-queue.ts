import { DeliveryError } from './delivery-error.ts';
import { errorMessage } from '../runtime/errors.ts';

/** One notification to send, with what to report when it is done. */
export interface DeliveryJob {
  send(signal: AbortSignal): Promise<void>;
  /** Called once: undefined on success, the last error after the final attempt or a drop. */
  done(error: DeliveryError | undefined): void;
}

export interface DeliveryQueueOptions {
  /** Jobs waiting per queue; beyond it the oldest waiting job is dropped (reported as failed). Default 100. */
  capacity?: number;
  /** Attempts per job for retryable failures. Default 4. */
  maxAttempts?: number;
  /** Delay before the first retry, doubling each time. Default 1 s. */
  retryBaseMs?: number;
  /** Cap on one retry delay. Default 30 s. */
  retryMaxMs?: number;
}

/**
 * A bounded, ordered queue of deliveries for one Provider, sent one at a time: a slow or dead endpoint only
 * ever delays its own Provider's notifications, never a reconcile (enqueueing is synchronous and never
 * blocks). Retryable failures (5xx, 429, timeouts, network) are retried with exponential backoff; 4xx is not.
 */
export class DeliveryQueue {
  private readonly waiting: DeliveryJob[] = [];
  private running = false;
  private readonly abort = new AbortController();
  private idle: Promise<void> = Promise.resolve();
  private readonly capacity: number;
  private readonly maxAttempts: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;

  constructor(options: DeliveryQueueOptions = {}) {
    this.capacity = options.capacity ?? 100;
    this.maxAttempts = options.maxAttempts ?? 4;
    this.retryBaseMs = options.retryBaseMs ?? 1000;
    this.retryMaxMs = options.retryMaxMs ?? 30_000;
  }

  get length(): number {
    return this.waiting.length;
  }

  push(job: DeliveryJob): void {
    if (this.abort.signal.aborted) return job.done(new DeliveryError('engine stopping, notification dropped', false));
    this.waiting.push(job);
    if (this.waiting.length > this.capacity) {
      this.waiting.shift()!.done(new DeliveryError(`queue full (${this.capacity} waiting), notification dropped`, false));
    }
    if (!this.running) {
      this.running = true;
      this.idle = this.drain();
    }
  }

  /** Aborts the request in flight and drops what is waiting; resolves when the worker has stopped. */
  async stop(): Promise<void> {
    this.abort.abort(new Error('engine stopping'));
    for (const job of this.waiting.splice(0)) job.done(new DeliveryError('engine stopping, notification dropped', false));
    await this.idle;
  }

  private async drain(): Promise<void> {
    for (let job = this.waiting.shift(); job; job = this.waiting.shift()) {
      job.done(await this.attempt(job));
    }
    this.running = false;
  }

  private async attempt(job: DeliveryJob): Promise<DeliveryError | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        await job.send(this.abort.signal);
        return undefined;
      } catch (error) {
        const failure = error instanceof DeliveryError ? error : new DeliveryError(errorMessage(error), false, undefined, { cause: error });
        if (!failure.retryable || attempt >= this.maxAttempts || this.abort.signal.aborted) return failure;
        await sleep(Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** (attempt - 1)), this.abort.signal);
      }
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });
}
