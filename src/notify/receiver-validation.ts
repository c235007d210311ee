import type { OidcProvider, ReceiverType } from '../api/receiver.ts';
import type { GoogleIdTokenVerifier } from './google-id-token.ts';
import { validateAcr } from './receiver-acr.ts';
import { validateBitbucket } from './receiver-bitbucket.ts';
import { validateCdevents } from './receiver-cdevents.ts';
import { validateDockerHub } from './receiver-dockerhub.ts';
import { validateGcr } from './receiver-gcr.ts';
import { validateGeneric, validateGenericHmac } from './receiver-generic.ts';
import { validateGenericOidc } from './receiver-generic-oidc.ts';
import type { OidcVerifiers } from './oidc-id-token.ts';
import { validateGithub } from './receiver-github.ts';
import { validateGitlab } from './receiver-gitlab.ts';
import { validateHarbor } from './receiver-harbor.ts';
import { validateNexus } from './receiver-nexus.ts';
import { validateQuay } from './receiver-quay.ts';
import type { ReceiverRequest, ReceiverVerdict } from './receiver-request.ts';

/** What a Receiver's secret provides: `token` always (empty for generic-oidc, which has none), other keys (GCR's `email`, `audience`) as the type needs. */
export interface ReceiverSecret {
  token: string;
  data: Record<string, string>;
}

/** Shared verification machinery (Google's ID token keys for GCR, each OIDC issuer's keys for generic-oidc). */
export interface ReceiverValidators {
  google: GoogleIdTokenVerifier;
  oidc: OidcVerifiers;
}

/** Validates a webhook request for a Receiver type. Rejects with ReceiverValidationError when it must be refused. */
export async function validateReceiverRequest(
  type: ReceiverType,
  request: ReceiverRequest,
  secret: ReceiverSecret,
  events: readonly string[] | undefined,
  validators: ReceiverValidators,
  oidcProviders?: readonly OidcProvider[],
): Promise<ReceiverVerdict> {
  const { token } = secret;
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
    case 'harbor':
      return validateHarbor(request, token);
    case 'dockerhub':
      return validateDockerHub(request);
    case 'quay':
      return validateQuay(request);
    case 'acr':
      return validateAcr(request);
    case 'nexus':
      return validateNexus(request, token);
    case 'cdevents':
      return validateCdevents(request, events);
    case 'gcr':
      return validateGcr(request, secret.data, validators.google);
    case 'generic-oidc':
      return validateGenericOidc(request, oidcProviders, validators.oidc);
  }
}
