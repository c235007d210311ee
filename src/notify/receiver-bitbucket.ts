import { checkEvent, header, ReceiverValidationError, type ReceiverRequest, type ReceiverVerdict } from './receiver-request.ts';
import { hmacMatches } from './timing-safe.ts';

/** `bitbucket` (Server/Data Center): `X-Hub-Signature` `sha256=<hex>` HMAC of the body; `X-Event-Key` must be in `events`. */
export function validateBitbucket(request: ReceiverRequest, token: string, events?: readonly string[]): ReceiverVerdict {
  const signature = header(request, 'x-hub-signature');
  const match = /^(sha256|sha1)=([0-9a-fA-F]+)$/.exec(signature ?? '');
  if (!match || !hmacMatches(match[1]!, token, request.body, match[2]!)) throw new ReceiverValidationError('invalid Bitbucket signature');
  const event = header(request, 'x-event-key');
  checkEvent('Bitbucket', event, events);
  return { action: 'trigger', event };
}
