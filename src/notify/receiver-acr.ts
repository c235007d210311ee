import { jsonPayload, stringAt } from './receiver-payload.ts';
import type { ReceiverRequest, ReceiverVerdict } from './receiver-request.ts';

/** `acr` (Azure Container Registry): the unguessable path is the credential; the push payload must decode. */
export function validateAcr(request: ReceiverRequest): ReceiverVerdict {
  const payload = jsonPayload(request, 'ACR');
  const action = stringAt(payload, ['action'], 'ACR');
  const repository = stringAt(payload, ['target', 'repository'], 'ACR');
  const tag = stringAt(payload, ['target', 'tag'], 'ACR');
  return { action: 'trigger', event: `${action} of ${repository}:${tag}` };
}
