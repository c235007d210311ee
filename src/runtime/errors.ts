/**
 * The three ways a reconcile can fail, after Flux's runtime: a generic error is retried with exponential
 * backoff; a stalling error waits for the user to change the spec (no retry); a waiting error retries after a
 * given delay (e.g. a dependency not ready yet). Each carries the condition reason it maps to.
 */
export class ReconcileError extends Error {
  constructor(
    readonly reason: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ReconcileError';
  }
}

/** The spec cannot work as written; retrying would not help until it changes. */
export class StallingError extends ReconcileError {
  override name = 'StallingError';
}

/** Not a failure yet: try again after `retryAfterMs`. */
export class WaitingError extends ReconcileError {
  override name = 'WaitingError';
  constructor(
    reason: string,
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(reason, message);
  }
}

/** The message of any thrown value, without a stack. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
