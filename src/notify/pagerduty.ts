import { DeliveryError } from './delivery-error.ts';
import type { FluxEvent } from './flux-event.ts';
import { postHttp } from './http-post.ts';
import { baseHeaders, type Notifier, type NotifierConfig } from './notifier.ts';
import { commitStatusDescription, commitStatusName } from './commit-status.ts';

/** `<reason in words>: <kind>/<name>`, the summary Flux gives PagerDuty. */
function summary(event: FluxEvent): string {
  return `${commitStatusDescription(event)}: ${commitStatusName(event)}`;
}

/**
 * The Events API v2 event: errors `trigger` an incident (deduplicated by the object's uid), info events
 * `resolve` it.
 */
export function pagerDutyEvent(event: FluxEvent, routingKey: string): Record<string, unknown> {
  const o = event.involvedObject;
  const base = { routing_key: routingKey, ...(o.uid ? { dedup_key: o.uid } : {}) };
  if (event.severity !== 'error') return { ...base, event_action: 'resolve' };
  return {
    ...base,
    event_action: 'trigger',
    payload: {
      summary: summary(event),
      source: `Flux ${event.reportingController}`,
      severity: 'error',
      timestamp: event.timestamp,
      component: o.name,
      group: o.kind,
      custom_details: { message: event.message, metadata: event.metadata ?? null },
    },
  };
}

/** The change event Flux records alongside a resolve (info events only). */
export function pagerDutyChangeEvent(event: FluxEvent, routingKey: string): Record<string, unknown> {
  return {
    routing_key: routingKey,
    payload: {
      summary: summary(event),
      source: `Flux ${event.reportingController}`,
      timestamp: event.timestamp,
      custom_details: { message: event.message, metadata: event.metadata ?? null },
    },
  };
}

/**
 * `pagerduty`: Events API v2 at the address's origin (`/v2/enqueue`, and `/v2/change/enqueue` for info
 * events); `channel` is the integration's routing key. `Progressing` events are not sent.
 */
export function pagerDutyNotifier(config: NotifierConfig): Notifier {
  if (!config.channel)
    throw new DeliveryError('pagerduty provider needs a channel (the integration routing key)', false);
  const origin = new URL(config.address).origin;
  const routingKey = config.channel;
  return {
    async post(event, signal) {
      if (event.reason === 'Progressing') return;
      const options = { ...config.http, headers: baseHeaders(config), signal };
      await postHttp(`${origin}/v2/enqueue`, JSON.stringify(pagerDutyEvent(event, routingKey)), options);
      if (event.severity === 'info')
        await postHttp(
          `${origin}/v2/change/enqueue`,
          JSON.stringify(pagerDutyChangeEvent(event, routingKey)),
          options,
        );
    },
  };
}
