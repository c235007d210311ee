import { ReceiverValidationError, type ReceiverRequest, type ReceiverVerdict } from './receiver-request.ts';
import { jsonPayload, stringAt } from './receiver-payload.ts';

/** `quay`: the unguessable path is the credential; the repository push payload must decode. */
export function validateQuay(request: ReceiverRequest): ReceiverVerdict {
  const payload = jsonPayload(request, 'Quay');
  const url = stringAt(payload, ['docker_url'], 'Quay');
  const tags = payload.updated_tags;
  if (
    tags !== undefined &&
    tags !== null &&
    !(Array.isArray(tags) && tags.every((t) => typeof t === 'string'))
  ) {
    throw new ReceiverValidationError(
      "cannot decode Quay webhook payload: 'updated_tags' is not a list of strings",
    );
  }
  return { action: 'trigger', event: `push to ${url}` };
}
