import { eventTitle, type FluxEvent } from './flux-event.ts';
import { postHttp } from './http-post.ts';
import { baseHeaders, type Notifier, type NotifierConfig } from './notifier.ts';

/**
 * Flux's Rocket.Chat message: Flux's Slack payload shape (every field present, empty ones as ""), blue
 * (`#0076D7`) for info and red (`#FF0000`) for errors.
 */
export function rocketPayload(
  event: FluxEvent,
  options: { channel?: string; username?: string },
): Record<string, unknown> {
  const fields = Object.entries(event.metadata ?? {}).map(([title, value]) => ({
    title,
    value,
    short: false,
  }));
  return {
    channel: options.channel ?? '',
    username: options.username ?? '',
    icon_url: '',
    icon_emoji: '',
    attachments: [
      {
        fallback: '',
        color: event.severity === 'error' ? '#FF0000' : '#0076D7',
        author_name: eventTitle(event),
        text: event.message,
        mrkdwn_in: ['text'],
        fields,
      },
    ],
  };
}

/** `rocket`: the message to the Rocket.Chat incoming webhook address. */
export function rocketNotifier(config: NotifierConfig): Notifier {
  return {
    async post(event, signal) {
      await postHttp(config.address, JSON.stringify(rocketPayload(event, config)), {
        ...config.http,
        headers: baseHeaders(config),
        signal,
      });
    },
  };
}
