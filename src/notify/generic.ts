import type { FluxEvent } from './flux-event.ts';
import { postHttp } from './http-post.ts';
import { baseHeaders, type Notifier, type NotifierConfig } from './notifier.ts';

/** Headers of a generic webhook request: Flux's `Gotk-Component`, basic auth, the secret's headers. */
export function genericHeaders(config: NotifierConfig, event: FluxEvent): Record<string, string> {
  const headers: Record<string, string> = { ...baseHeaders(config), 'gotk-component': event.reportingController };
  if (config.basicAuth) {
    const { username, password } = config.basicAuth;
    headers.authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }
  return headers;
}

/** `generic`: POSTs the Flux event JSON unchanged to the address. */
export function genericNotifier(config: NotifierConfig): Notifier {
  return {
    async post(event, signal) {
      await postHttp(config.address, JSON.stringify(event), { ...config.http, headers: genericHeaders(config, event), signal });
    },
  };
}
