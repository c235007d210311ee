import { header, ReceiverValidationError, type ReceiverRequest, type ReceiverVerdict } from './receiver-request.ts';
import { hmacMatches } from './timing-safe.ts';

/** `generic`: the unguessable path is the only credential. */
export function validateGeneric(): ReceiverVerdict {
  return { action: 'trigger' };
}

/** `generic-hmac`: `X-Signature` `<sha1|sha256|sha512>=<hex>` must be the HMAC of the body keyed with the token. */
export function validateGenericHmac(request: ReceiverRequest, token: string): ReceiverVerdict {
  const match = /^(sha1|sha256|sha512)=([0-9a-fA-F]+)$/.exec(header(request, 'x-signature') ?? '');
  if (!match || !hmacMatches(match[1]!, token, request.body, match[2]!)) throw new ReceiverValidationError('invalid X-Signature');
  return { action: 'trigger' };
}
