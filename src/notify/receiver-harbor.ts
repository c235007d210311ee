import {
  header,
  ReceiverValidationError,
  type ReceiverRequest,
  type ReceiverVerdict,
} from './receiver-request.ts';
import { safeEqual } from './timing-safe.ts';

/** `harbor`: the `Authorization` header (Harbor's webhook "auth header") must equal the token. */
export function validateHarbor(request: ReceiverRequest, token: string): ReceiverVerdict {
  if (!safeEqual(header(request, 'authorization') ?? '', token))
    throw new ReceiverValidationError('the Harbor Authorization header does not match the receiver token');
  return { action: 'trigger', event: 'harbor' };
}
