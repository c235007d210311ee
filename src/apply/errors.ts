/**
 * A request the Kubernetes API server refused. `message` is the server's own `Status.message` (prefixed with
 * the verb and path), never a credential: request headers are not part of it.
 */
export class KubeApiError extends Error {
  override name = 'KubeApiError';
  constructor(
    /** HTTP status code (404, 409, 422, …); 0 when the server could not be reached. */
    readonly code: number,
    /** `Status.reason` as the server sent it (`NotFound`, `Conflict`, `Invalid`, …), or `''`. */
    readonly reason: string,
    message: string,
    /** `Status.details.causes[].message`, when the server listed causes. */
    readonly causes: string[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** True when `error` is a 404 from the API server. */
export function isNotFound(error: unknown): boolean {
  return error instanceof KubeApiError && error.code === 404;
}

/**
 * Applying one object failed. `message` starts with `Kind/namespace/name` (Flux's format) and carries the
 * API server's words; `objectId` is the inventory id of the object.
 */
export class ApplyError extends Error {
  override name = 'ApplyError';
  constructor(
    readonly objectId: string,
    message: string,
    /** True when the server rejected a change to an immutable field and force was not enabled. */
    readonly immutable = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Waiting for objects to become healthy ended without all of them Current. */
export class HealthCheckError extends Error {
  override name = 'HealthCheckError';
  constructor(
    message: string,
    /** `Kind/namespace/name` → status and message of every object that was not Current. */
    readonly unhealthy: { ref: string; status: string; message: string }[],
  ) {
    super(message);
  }
}
