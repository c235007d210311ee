import {
  header,
  ReceiverValidationError,
  type ReceiverRequest,
  type ReceiverVerdict,
} from './receiver-request.ts';
import { jsonPayload, stringAt } from './receiver-payload.ts';
import { hmacMatches } from './timing-safe.ts';

/** `nexus`: `X-Nexus-Webhook-Signature` must be the hex HMAC-SHA1 of the body keyed with the token; the payload must decode. */
export function validateNexus(request: ReceiverRequest, token: string): ReceiverVerdict {
  const signature = header(request, 'x-nexus-webhook-signature');
  if (!signature) throw new ReceiverValidationError('the Nexus signature is missing from the header');
  if (!hmacMatches('sha1', token, request.body, signature))
    throw new ReceiverValidationError('invalid Nexus signature');
  const payload = jsonPayload(request, 'Nexus');
  const action = stringAt(payload, ['action'], 'Nexus');
  const repository = stringAt(payload, ['repositoryName'], 'Nexus');
  return { action: 'trigger', event: `${action} in ${repository}` };
}
