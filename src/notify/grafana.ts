import { eventTitle, type FluxEvent } from './flux-event.ts';
import { postHttp } from './http-post.ts';
import { baseHeaders, type Notifier, type NotifierConfig } from './notifier.ts';

/**
 * Flux's Grafana annotation: the object as text, the event time (Unix seconds, as Flux sends it) and tags
 * `flux`, the controller, `key: value` per metadata entry (`:` inside them becomes `|`), kind, name and namespace.
 */
export function grafanaAnnotation(event: FluxEvent): { when: number; text: string; tags: string[] } {
  const o = event.involvedObject;
  const tags = [
    'flux',
    event.reportingController,
    ...Object.entries(event.metadata ?? {}).map(
      ([k, v]) => `${k.replaceAll(':', '|')}: ${v.replaceAll(':', '|')}`,
    ),
    `kind: ${o.kind}`,
    `name: ${o.name}`,
    `namespace: ${o.namespace}`,
  ];
  return { when: Math.floor(Date.parse(event.timestamp) / 1000), text: eventTitle(event), tags };
}

/** `grafana`: the annotation to the address (`…/api/annotations`), with a bearer token, else basic auth. */
export function grafanaNotifier(config: NotifierConfig): Notifier {
  return {
    async post(event, signal) {
      const headers = baseHeaders(config);
      if (config.token) headers.authorization = `Bearer ${config.token}`;
      else if (config.basicAuth)
        headers.authorization = `Basic ${Buffer.from(`${config.basicAuth.username}:${config.basicAuth.password}`).toString('base64')}`;
      await postHttp(config.address, JSON.stringify(grafanaAnnotation(event)), {
        ...config.http,
        headers,
        signal,
      });
    },
  };
}
