import type { FluxEvent } from './flux-event.ts';
import { postHttp } from './http-post.ts';
import { baseHeaders, type Notifier, type NotifierConfig } from './notifier.ts';

/** Alertmanager's v2 alert: labels identify it, annotations describe it. */
export interface AlertmanagerAlert {
  status: 'firing';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
}

/** Label names must match `[a-zA-Z_][a-zA-Z0-9_]*`. */
function labelName(key: string): string {
  const name = key.replace(/[^a-zA-Z0-9_]/g, '_');
  return /^[a-zA-Z_]/.test(name) ? name : `_${name}`;
}

/** The alert Flux posts: `alertname` Flux<Kind><Reason>, the object and severity as labels, the message as annotation. */
export function alertmanagerPayload(event: FluxEvent): AlertmanagerAlert[] {
  const o = event.involvedObject;
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(event.metadata ?? {})) {
    if (key !== 'summary') labels[labelName(key)] = value;
  }
  Object.assign(labels, {
    alertname: `Flux${o.kind}${event.reason}`,
    severity: event.severity,
    reason: event.reason,
    timestamp: event.timestamp,
    kind: o.kind,
    name: o.name,
    namespace: o.namespace,
    reportingcontroller: event.reportingController,
  });
  const annotations: Record<string, string> = { message: event.message };
  const summary = event.metadata?.summary;
  if (summary) annotations.summary = summary;
  return [{ status: 'firing', labels, annotations, startsAt: event.timestamp }];
}

/** `alertmanager`: POSTs the alert to the address (`…/api/v2/alerts`), with the bearer token or basic auth when given. */
export function alertmanagerNotifier(config: NotifierConfig): Notifier {
  return {
    async post(event, signal) {
      const headers = baseHeaders(config);
      if (config.token) headers.authorization = `Bearer ${config.token}`;
      // Flux sets basic auth after the bearer token, so username/password win when both are given.
      if (config.basicAuth) headers.authorization = `Basic ${Buffer.from(`${config.basicAuth.username}:${config.basicAuth.password}`).toString('base64')}`;
      await postHttp(config.address, JSON.stringify(alertmanagerPayload(event)), { ...config.http, headers, signal });
    },
  };
}
