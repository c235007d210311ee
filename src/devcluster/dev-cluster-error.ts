/** Why a dev cluster operation failed; stable names for callers that branch on them. */
export type DevClusterErrorReason =
  'BinariesUnavailable' | 'CertificatesFailed' | 'ProcessFailed' | 'NotReady' | 'StopFailed';

/**
 * The one error type of `src/devcluster`. The message is lowercase, names the process, file or directory
 * involved and, where a process failed, ends with the tail of its log.
 */
export class DevClusterError extends Error {
  override readonly name = 'DevClusterError';

  constructor(
    readonly reason: DevClusterErrorReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
