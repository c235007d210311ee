/** Why a git operation failed; the controller maps each code to a condition reason. */
export type GitErrorCode =
  | 'auth'
  | 'not-found'
  | 'unreachable'
  | 'invalid-ref'
  | 'invalid-url'
  | 'timeout'
  | 'verification'
  | 'failed';

/**
 * A failed git operation. The message is lowercase, names the (scrubbed) URL or directory, and never
 * contains credentials: callers may put it in status conditions and events as is.
 */
export class GitError extends Error {
  override readonly name = 'GitError';

  constructor(
    readonly code: GitErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
