/**
 * A notification could not be delivered. `retryable` is true for network errors, timeouts and 5xx/429
 * responses, false for other 4xx and for configuration problems. The message never carries the address's
 * credentials or the token.
 */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly statusCode?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DeliveryError';
  }
}
