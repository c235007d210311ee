import { postHttp } from './http-post.ts';
import { baseHeaders, type Notifier, type NotifierConfig } from './notifier.ts';
import { slackPayload } from './slack.ts';

/** The Slack-compatible endpoint of a Discord webhook: the address with `/slack` appended (once). */
export function discordSlackUrl(address: string): string {
  const url = new URL(address);
  if (!url.pathname.endsWith('/slack')) url.pathname = `${url.pathname.replace(/\/$/, '')}/slack`;
  return url.toString();
}

/** `discord`: the Slack-shaped message to the webhook's Slack-compatible endpoint, as Flux does. */
export function discordNotifier(config: NotifierConfig): Notifier {
  return {
    async post(event, signal) {
      const body = JSON.stringify(slackPayload(event, { username: config.username }));
      await postHttp(discordSlackUrl(config.address), body, { ...config.http, headers: baseHeaders(config), signal });
    },
  };
}
