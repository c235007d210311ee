import { DeliveryError } from './delivery-error.ts';
import { eventTitle, type FluxEvent } from './flux-event.ts';
import { postHttp } from './http-post.ts';
import { baseHeaders, type Notifier, type NotifierConfig } from './notifier.ts';

/** Slack's Web API endpoint, used when a token is given and no address. */
export const SLACK_API_URL = 'https://slack.com/api/chat.postMessage';

const FLUX_ICON = 'https://avatars.githubusercontent.com/u/52158677';

/** The Slack message Flux sends: one attachment, green for info and red for errors, metadata as fields. */
export function slackPayload(event: FluxEvent, options: { channel?: string; username?: string }): Record<string, unknown> {
  const fields = Object.entries(event.metadata ?? {}).map(([title, value]) => ({ title, value, short: false }));
  return {
    ...(options.channel ? { channel: options.channel } : {}),
    ...(options.username ? { username: options.username } : {}),
    icon_url: FLUX_ICON,
    attachments: [
      {
        color: event.severity === 'error' ? 'danger' : 'good',
        author_name: eventTitle(event),
        text: event.message,
        mrkdwn_in: ['text'],
        ...(fields.length > 0 ? { fields } : {}),
      },
    ],
  };
}

/** `slack`: an incoming webhook at the address, or chat.postMessage with the secret's bot token. */
export function slackNotifier(config: NotifierConfig): Notifier {
  return {
    async post(event, signal) {
      const headers = baseHeaders(config);
      if (config.token) headers.authorization = `Bearer ${config.token}`;
      const body = JSON.stringify(slackPayload(event, config));
      const response = await postHttp(config.address, body, { ...config.http, headers, signal });
      // The Web API answers 200 with {"ok": false} on errors.
      if (config.token && /^\s*\{/.test(response.body)) {
        const answer = JSON.parse(response.body) as { ok?: boolean; error?: string };
        if (answer.ok === false) throw new DeliveryError(`slack refused the message: ${answer.error ?? 'unknown error'}`, false);
      }
    },
  };
}
