import type { GoogleIdTokenVerifier } from './google-id-token.ts';
import {
  header,
  ReceiverValidationError,
  type ReceiverRequest,
  type ReceiverVerdict,
} from './receiver-request.ts';
import { jsonPayload, stringAt } from './receiver-payload.ts';

/**
 * `gcr` (Google Container / Artifact Registry through a Pub/Sub push subscription): the `Authorization:
 * Bearer` ID token must be signed by Google for the secret's `audience`, issued to the secret's `email`
 * (the push subscription's service account) with a verified email; the Pub/Sub message must carry a
 * registry event (base64 JSON in `message.data`).
 */
export async function validateGcr(
  request: ReceiverRequest,
  secret: Record<string, string>,
  verifier: GoogleIdTokenVerifier,
): Promise<ReceiverVerdict> {
  const email = secret.email;
  const audience = secret.audience;
  if (!email)
    throw new ReceiverValidationError(
      "the receiver secret has no 'email' key, which a GCR receiver requires",
    );
  if (!audience)
    throw new ReceiverValidationError(
      "the receiver secret has no 'audience' key, which a GCR receiver requires",
    );
  const bearer = header(request, 'authorization') ?? '';
  if (!bearer.startsWith('Bearer '))
    throw new ReceiverValidationError('the Authorization header is missing or malformed');
  const claims = await verifier.verify(bearer.slice('Bearer '.length), audience);
  if (claims.email !== email)
    throw new ReceiverValidationError(`token email is '${claims.email ?? ''}', want '${email}'`);
  if (claims.email_verified !== true)
    throw new ReceiverValidationError(`token email '${email}' is not verified`);
  const data = stringAt(jsonPayload(request, 'GCR'), ['message', 'data'], 'GCR');
  let event: unknown;
  try {
    event = JSON.parse(Buffer.from(data, 'base64').toString('utf8'));
  } catch {
    throw new ReceiverValidationError('cannot decode GCR webhook body: message.data is not base64 JSON');
  }
  if (typeof event !== 'object' || event === null || Array.isArray(event))
    throw new ReceiverValidationError('cannot decode GCR webhook body: not a JSON object');
  const { action, tag, digest } = event as Record<string, unknown>;
  const text = (value: unknown) => (typeof value === 'string' ? value : '');
  return { action: 'trigger', event: `${text(action)} ${text(tag) || text(digest)}`.trim() };
}
