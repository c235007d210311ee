import { DeliveryError } from './delivery-error.ts';
import { eventTitle } from './flux-event.ts';
import { postHttp } from './http-post.ts';
import { baseHeaders, type Notifier, type NotifierConfig } from './notifier.ts';
import { isProgressing } from './commit-status.ts';

/**
 * `incident.io`: an alert event to an HTTP alert source (`…/v2/alert_events/http/<source id>`) with the
 * secret's `token` as bearer: errors fire, other events resolve, deduplicated by the object's uid so a
 * recovery resolves what its failure fired; the event's metadata plus severity, reason and reporting
 * controller as metadata. `Progressing` events are skipped, as Flux does.
 */
export function incidentIoNotifier(config: NotifierConfig): Notifier {
  if (!config.token)
    throw new DeliveryError("incident.io provider needs an API 'token' in its secret", false);
  const headers = { ...baseHeaders(config), authorization: `Bearer ${config.token}` };
  return {
    async post(event, signal) {
      if (isProgressing(event)) return;
      const metadata: Record<string, string> = {
        ...event.metadata,
        severity: event.severity,
        reason: event.reason,
      };
      if (event.reportingController) metadata.reportingController = event.reportingController;
      const payload = {
        title: `${eventTitle(event)}: ${event.reason}`,
        status: event.severity === 'error' ? 'firing' : 'resolved',
        deduplication_key: event.involvedObject.uid ?? '',
        ...(event.message ? { description: event.message } : {}),
        metadata,
      };
      await postHttp(config.address, JSON.stringify(payload), { ...config.http, headers, signal });
    },
  };
}
