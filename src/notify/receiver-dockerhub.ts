import { jsonPayload, stringAt } from './receiver-payload.ts';
import type { ReceiverRequest, ReceiverVerdict } from './receiver-request.ts';

/** `dockerhub`: the unguessable path is the credential (Docker Hub cannot sign); the push payload must decode. */
export function validateDockerHub(request: ReceiverRequest): ReceiverVerdict {
  const payload = jsonPayload(request, 'DockerHub');
  const tag = stringAt(payload, ['push_data', 'tag'], 'DockerHub');
  const repository = stringAt(payload, ['repository', 'repo_url'], 'DockerHub');
  return { action: 'trigger', event: `push of ${repository}:${tag}` };
}
