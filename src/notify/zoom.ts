import { DeliveryError } from './delivery-error.ts';
import { eventTitle } from './flux-event.ts';
import { postHttp } from './http-post.ts';
import { baseHeaders, type Notifier, type NotifierConfig } from './notifier.ts';

/**
 * `zoom`: a Team Chat Incoming Webhook message in the rich format (`?format=full` added unless the address
 * names a format): `<kind>/<name>.<namespace>` as the head, the severity as the sub-head, the message and
 * the metadata as fields (sorted by key). The secret's `token` is the webhook's verification token, sent
 * as the bare `Authorization` header, as Flux does.
 */
export function zoomNotifier(config: NotifierConfig): Notifier {
  if (!config.token)
    throw new DeliveryError("zoom provider needs the webhook's verification 'token' in its secret", false);
  const url = new URL(config.address);
  if (!url.searchParams.get('format')) url.searchParams.set('format', 'full');
  const headers = { ...baseHeaders(config), authorization: config.token };
  return {
    async post(event, signal) {
      const metadata = event.metadata ?? {};
      const keys = Object.keys(metadata).sort();
      const body: Array<Record<string, unknown>> = [{ type: 'message', text: event.message }];
      if (keys.length > 0)
        body.push({ type: 'fields', items: keys.map((key) => ({ key, value: metadata[key] })) });
      const payload = {
        content: { head: { text: eventTitle(event), sub_head: { text: event.severity } }, body },
      };
      await postHttp(url.toString(), JSON.stringify(payload), { ...config.http, headers, signal });
    },
  };
}
