import type { ReceiverType } from '../api/receiver.ts';
import { validateBitbucket } from './receiver-bitbucket.ts';
import { validateGeneric, validateGenericHmac } from './receiver-generic.ts';
import { validateGithub } from './receiver-github.ts';
import { validateGitlab } from './receiver-gitlab.ts';
import type { ReceiverRequest, ReceiverVerdict } from './receiver-request.ts';

/** Validates a webhook request for a Receiver type. Throws ReceiverValidationError when it must be refused. */
export function validateReceiverRequest(type: ReceiverType, request: ReceiverRequest, token: string, events?: readonly string[]): ReceiverVerdict {
  switch (type) {
    case 'generic':
      return validateGeneric();
    case 'generic-hmac':
      return validateGenericHmac(request, token);
    case 'github':
      return validateGithub(request, token, events);
    case 'gitlab':
      return validateGitlab(request, token, events);
    case 'bitbucket':
      return validateBitbucket(request, token, events);
  }
}
