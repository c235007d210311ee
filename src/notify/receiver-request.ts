import type { IncomingHttpHeaders } from 'node:http';

/** An inbound webhook request as the validators see it. */
export interface ReceiverRequest {
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** What a valid request asks for: trigger the Receiver's resources, or only answer (a GitHub ping). */
export type ReceiverVerdict =
  /** `claims`: a verified OIDC token's claims (generic-oidc), the resource filters' `claims` variable. */
  | { action: 'trigger'; event?: string; claims?: Record<string, unknown> }
  | { action: 'answer'; message: string };

/** The request is not from who the Receiver trusts, or carries an event it does not accept: HTTP 400, nothing triggered. */
export class ReceiverValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReceiverValidationError';
  }
}

/** The first value of a header. */
export function header(request: ReceiverRequest, name: string): string | undefined {
  const value = request.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** Throws unless `event` is allowed by the Receiver's `events` (an empty list allows all), case-insensitively as Flux. */
export function checkEvent(kind: string, event: string | undefined, events: readonly string[] | undefined): void {
  if (!events || events.length === 0) return;
  if (!event || !events.some((e) => e.toLowerCase() === event.toLowerCase())) {
    throw new ReceiverValidationError(`${kind} event '${event ?? ''}' is not in the receiver's events`);
  }
}
