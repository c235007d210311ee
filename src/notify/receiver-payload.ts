import { ReceiverValidationError, type ReceiverRequest } from './receiver-request.ts';

/** The body as a JSON object, or a refusal naming the receiver type (as Flux refuses a payload it cannot decode). */
export function jsonPayload(request: ReceiverRequest, kind: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(request.body.toString('utf8'));
  } catch {
    throw new ReceiverValidationError(`cannot decode ${kind} webhook payload: not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ReceiverValidationError(`cannot decode ${kind} webhook payload: not a JSON object`);
  return value as Record<string, unknown>;
}

/** The string at `path` in a decoded payload; a value of another type is refused, a missing one is ''. */
export function stringAt(payload: Record<string, unknown>, path: readonly string[], kind: string): string {
  let value: unknown = payload;
  for (const key of path) {
    if (value === undefined || value === null) return '';
    if (typeof value !== 'object' || Array.isArray(value))
      throw new ReceiverValidationError(
        `cannot decode ${kind} webhook payload: '${path.join('.')}' has the wrong type`,
      );
    value = (value as Record<string, unknown>)[key];
  }
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string')
    throw new ReceiverValidationError(
      `cannot decode ${kind} webhook payload: '${path.join('.')}' is not a string`,
    );
  return value;
}
