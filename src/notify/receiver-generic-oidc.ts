import { DEFAULT_OIDC_AUDIENCE, type OidcProvider } from '../api/receiver.ts';
import { compileCel } from '../cel/cel-expression.ts';
import { FluxCel } from '../cel/flux-expressions.ts';
import { unverifiedIssuer, type OidcVerifiers } from './oidc-id-token.ts';
import {
  header,
  ReceiverValidationError,
  type ReceiverRequest,
  type ReceiverVerdict,
} from './receiver-request.ts';

/**
 * `generic-oidc`: the `Authorization: Bearer` OIDC ID token must come from one of the Receiver's
 * `oidcProviders` (chosen by the token's `iss`), verify against that issuer's keys for its `audience`
 * (default `notification-controller`) and pass every one of its CEL `validations` (over `claims` and the
 * `vars` its `variables` define, in order). The verified claims are returned for the resource filters'
 * `claims` variable.
 */
export async function validateGenericOidc(
  request: ReceiverRequest,
  providers: readonly OidcProvider[] | undefined,
  verifiers: OidcVerifiers,
): Promise<ReceiverVerdict> {
  if (!providers?.length)
    throw new ReceiverValidationError('generic-oidc receiver has no oidcProviders configured');
  const bearer = header(request, 'authorization') ?? '';
  if (!bearer.startsWith('Bearer '))
    throw new ReceiverValidationError('the Authorization header is missing or malformed');
  const token = bearer.slice('Bearer '.length).trim();
  if (!token) throw new ReceiverValidationError('the Authorization header is missing a bearer token');
  const issuer = unverifiedIssuer(token);
  const provider = providers.find((p) => p.issuerURL === issuer);
  if (!provider) throw new ReceiverValidationError(`no oidcProvider configured for issuer '${issuer}'`);
  const claims = await verifiers
    .for(provider.issuerURL)
    .verify(token, provider.audience || DEFAULT_OIDC_AUDIENCE);
  const vars: Record<string, unknown> = {};
  try {
    for (const v of provider.variables ?? [])
      vars[v.name] = compileCel(v.expression, FluxCel.oidcVariable).evaluate({ claims, vars });
    const failures = (provider.validations ?? []).filter(
      (v) => !compileCel(v.expression, FluxCel.oidcValidation).evaluateBoolean({ claims, vars }),
    );
    if (failures.length > 0)
      throw new ReceiverValidationError(
        `token validation failed: ${failures.map((f) => f.message).join('; ')}`,
      );
  } catch (error) {
    if (error instanceof ReceiverValidationError) throw error;
    throw new ReceiverValidationError(`token validation failed: ${(error as Error).message}`);
  }
  return { action: 'trigger', claims };
}
