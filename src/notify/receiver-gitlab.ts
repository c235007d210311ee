import { checkEvent, header, ReceiverValidationError, type ReceiverRequest, type ReceiverVerdict } from './receiver-request.ts';
import { safeEqual } from './timing-safe.ts';

/** `gitlab`: `X-Gitlab-Token` must equal the token; `X-Gitlab-Event` must be in `events` when given. */
export function validateGitlab(request: ReceiverRequest, token: string, events?: readonly string[]): ReceiverVerdict {
  if (!safeEqual(header(request, 'x-gitlab-token') ?? '', token)) throw new ReceiverValidationError('invalid GitLab token');
  const event = header(request, 'x-gitlab-event');
  checkEvent('GitLab', event, events);
  return { action: 'trigger', event };
}
