import { eventTitle, type FluxEvent } from './flux-event.ts';
import { postHttp } from './http-post.ts';
import { baseHeaders, type Notifier, type NotifierConfig } from './notifier.ts';

/** Flux's Webex markdown: a bold title with ✅ or 💣, the message, a `>**key**: value` line per metadata entry. */
export function webexMarkdown(event: FluxEvent): string {
  const emoji = event.severity === 'error' ? '💣' : '✅';
  const lines = [
    `${emoji} **${eventTitle(event)}**`,
    event.message,
    ...Object.entries(event.metadata ?? {}).map(([k, v]) => `>**${k}**: ${v}`),
  ];
  return `${lines.join('\n')}\n`;
}

/** `webex`: a message to the room `channel` through the messages API at the address, with the bot token as bearer. */
export function webexNotifier(config: NotifierConfig): Notifier {
  return {
    async post(event, signal) {
      const body = JSON.stringify({
        ...(config.channel ? { roomId: config.channel } : {}),
        markdown: webexMarkdown(event),
      });
      const headers = { ...baseHeaders(config), authorization: `Bearer ${config.token ?? ''}` };
      await postHttp(config.address, body, { ...config.http, headers, signal });
    },
  };
}
