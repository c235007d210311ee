import { createHash } from 'node:crypto';
import { DeliveryError } from './delivery-error.ts';
import type { FluxEvent } from './flux-event.ts';
import { postHttp } from './http-post.ts';
import { baseHeaders, type Notifier, type NotifierConfig } from './notifier.ts';

/** The alert alias: sha256 of Provider uid, object and reason, so repeats of one condition are one alert. */
export function opsgenieAlias(providerUid: string, event: FluxEvent): string {
  const o = event.involvedObject;
  return createHash('sha256')
    .update(`${providerUid}/${o.kind}/${o.namespace}/${o.name}/${event.reason}`)
    .digest('hex');
}

/** Flux's Opsgenie alert: `Kind/name` as message, the event message as description, metadata and severity as details. */
export function opsgeniePayload(event: FluxEvent, providerUid: string): Record<string, unknown> {
  const o = event.involvedObject;
  return {
    message: `${o.kind}/${o.name}`,
    alias: opsgenieAlias(providerUid, event),
    description: event.message,
    details: { ...event.metadata, severity: event.severity },
  };
}

/** `opsgenie`: the alert to the alerts API address (`…/v2/alerts`) with `Authorization: GenieKey <token>`. */
export function opsgenieNotifier(config: NotifierConfig): Notifier {
  if (!config.token)
    throw new DeliveryError("opsgenie provider needs a 'token' (the API key) in its secret", false);
  const key = config.token;
  return {
    async post(event, signal) {
      const headers = { ...baseHeaders(config), authorization: `GenieKey ${key}` };
      await postHttp(config.address, JSON.stringify(opsgeniePayload(event, config.provider.uid ?? '')), {
        ...config.http,
        headers,
        signal,
      });
    },
  };
}
