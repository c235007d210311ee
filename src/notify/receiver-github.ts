import { checkEvent, header, ReceiverValidationError, type ReceiverRequest, type ReceiverVerdict } from './receiver-request.ts';
import { hmacMatches } from './timing-safe.ts';

/**
 * `github`: `X-Hub-Signature-256` (`sha256=<hex>`, or legacy `X-Hub-Signature` `sha1=<hex>`) must be the
 * HMAC of the body keyed with the token; a `ping` is answered without triggering; `X-GitHub-Event` must be
 * in `events` when given.
 */
export function validateGithub(request: ReceiverRequest, token: string, events?: readonly string[]): ReceiverVerdict {
  const sha256 = header(request, 'x-hub-signature-256');
  const sha1 = header(request, 'x-hub-signature');
  const [algorithm, signature] = sha256 ? ['sha256', sha256] : ['sha1', sha1];
  const prefix = `${algorithm}=`;
  if (!signature?.startsWith(prefix) || !hmacMatches(algorithm, token, request.body, signature.slice(prefix.length))) {
    throw new ReceiverValidationError('invalid GitHub signature');
  }
  const event = header(request, 'x-github-event');
  if (event === 'ping') return { action: 'answer', message: 'pong' };
  checkEvent('GitHub', event, events);
  return { action: 'trigger', event };
}
