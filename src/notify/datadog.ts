import { DeliveryError } from './delivery-error.ts';
import type { FluxEvent } from './flux-event.ts';
import { postHttp } from './http-post.ts';
import { baseHeaders, type Notifier, type NotifierConfig } from './notifier.ts';

/** Flux's Datadog event: title and text, lower-case tags for the controller, reason, object and metadata. */
export function datadogEvent(event: FluxEvent): Record<string, unknown> {
  const o = event.involvedObject;
  const tags = [
    `flux_reporting_controller:${event.reportingController}`,
    `flux_reason:${event.reason}`,
    `kube_kind:${o.kind}`,
    `kube_name:${o.name}`,
    `kube_namespace:${o.namespace}`,
    ...Object.entries(event.metadata ?? {}).map(([k, v]) => `${k}:${v}`),
  ].map((tag) => tag.toLowerCase());
  return {
    title: `Events from the ${o.kind} ${o.name}/${o.namespace}`,
    text: event.message,
    tags,
    source_type_name: 'fluxcd',
    date_happened: Math.floor(Date.parse(event.timestamp) / 1000),
    alert_type: event.severity === 'error' ? 'error' : 'info',
  };
}

/** `datadog`: POST `<site>/api/v1/events` on the address's origin (e.g. `https://api.datadoghq.eu`) with `DD-API-KEY`. */
export function datadogNotifier(config: NotifierConfig): Notifier {
  if (!config.token)
    throw new DeliveryError("datadog provider needs a 'token' (the API key) in its secret", false);
  const url = `${new URL(config.address).origin}/api/v1/events`;
  const key = config.token;
  return {
    async post(event, signal) {
      const headers = { ...baseHeaders(config), accept: 'application/json', 'dd-api-key': key };
      await postHttp(url, JSON.stringify(datadogEvent(event)), { ...config.http, headers, signal });
    },
  };
}
