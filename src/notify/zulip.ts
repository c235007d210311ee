import { DeliveryError } from './delivery-error.ts';
import type { FluxEvent } from './flux-event.ts';
import { postHttp } from './http-post.ts';
import type { Notifier, NotifierConfig } from './notifier.ts';

/** Flux's Markdown post: a "Flux Status" heading, ⚠️/ℹ️ with `Kind/namespace/name`, the message, sorted metadata. */
export function zulipContent(event: FluxEvent): string {
  const o = event.involvedObject;
  const emoji = event.severity === 'error' ? '⚠️' : 'ℹ️';
  const metadata = Object.keys(event.metadata ?? {})
    .sort()
    .map((key) => `* \`${key}\`: ${event.metadata![key]}\n`)
    .join('');
  return `## Flux Status\n\n${emoji} ${o.kind}/${o.namespace}/${o.name}\n\n${event.message}\n\nMetadata:\n${metadata}`;
}

/** `<stream>/<topic>` from the Provider channel. */
export function zulipChannel(channel: string | undefined): { stream: string; topic: string } {
  const slash = (channel ?? '').indexOf('/');
  const stream = slash < 0 ? '' : channel!.slice(0, slash);
  const topic = slash < 0 ? '' : channel!.slice(slash + 1);
  if (!stream || !topic)
    throw new DeliveryError(
      `zulip provider needs a channel of the form <stream>/<topic>, got '${channel ?? ''}'`,
      false,
    );
  return { stream, topic };
}

/**
 * `zulip`: a stream message through `<server>/api/v1/messages` (the address's path is replaced), form-encoded,
 * with the bot's email and API key as basic auth (`username` / `password`).
 */
export function zulipNotifier(config: NotifierConfig): Notifier {
  const { stream, topic } = zulipChannel(config.channel);
  const url = new URL(config.address);
  url.pathname = '/api/v1/messages';
  const username = config.basicAuth?.username ?? config.username ?? '';
  const password = config.basicAuth?.password ?? config.password ?? '';
  return {
    async post(event, signal) {
      const body = new URLSearchParams({
        content: zulipContent(event),
        to: stream,
        topic,
        type: 'stream',
      }).toString();
      const headers: Record<string, string> = {
        ...config.headers,
        'content-type': 'application/x-www-form-urlencoded',
      };
      if (username || password)
        headers.authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
      await postHttp(url.toString(), body, { ...config.http, headers, signal });
    },
  };
}
