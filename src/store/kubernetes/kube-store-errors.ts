import type { ObjectRef } from '../../api/meta.ts';
import { KubeApiError } from '../../apply/errors.ts';
import { ConflictError, InvalidObjectError, NotFoundError } from '../store.ts';

/**
 * The Store error for an API server answer about `ref`: a stale resourceVersion (409 Conflict) is a
 * {@link ConflictError}, a missing object (404) a {@link NotFoundError} (a missing namespace says so), an object
 * the server refuses (400 strict decoding, 422 Invalid) an {@link InvalidObjectError} with the server's words,
 * which name the field. Anything else is returned as it is.
 */
export function storeError(error: unknown, ref: ObjectRef): unknown {
  if (!(error instanceof KubeApiError)) return error;
  if (error.code === 409 && error.reason === 'Conflict') return new ConflictError(ref);
  if (error.code === 404 && /namespaces? "[^"]*" not found/.test(error.message))
    return new Error(
      `cannot write ${ref.kind} ${ref.namespace}/${ref.name}: namespace ${ref.namespace} does not exist`,
      { cause: error },
    );
  if (error.code === 404) return new NotFoundError(ref);
  if (error.code === 400 || error.code === 422)
    return new InvalidObjectError(
      `${ref.kind} ${ref.namespace}/${ref.name} refused by the API server: ${error.message}`,
    );
  return error;
}

/** True for a create that found the object already there (another writer was first). */
export function isAlreadyExists(error: unknown): boolean {
  return error instanceof KubeApiError && error.code === 409 && error.reason === 'AlreadyExists';
}

/** True for 404 Not Found. */
export function isMissing(error: unknown): boolean {
  return error instanceof KubeApiError && error.code === 404;
}
