import { eventTitle, type FluxEvent } from './flux-event.ts';
import { postHttp } from './http-post.ts';
import { baseHeaders, type Notifier, type NotifierConfig } from './notifier.ts';

/** Flux's Lark (Feishu) interactive card: turquoise 💫 for info, red 🚨 for errors; message in bold, then metadata. */
export function larkPayload(event: FluxEvent): Record<string, unknown> {
  const error = event.severity === 'error';
  const metadata = Object.entries(event.metadata ?? {})
    .map(([k, v]) => `${k}: ${v}\n`)
    .join('');
  return {
    msg_type: 'interactive',
    card: {
      config: { wide_screen_mode: true },
      header: {
        title: { tag: 'plain_text', content: `${error ? '🚨' : '💫'} ${eventTitle(event)}` },
        template: error ? 'red' : 'turquoise',
      },
      elements: [{ tag: 'div', text: { tag: 'lark_md', content: `**${event.message}**\n\n${metadata}` } }],
    },
  };
}

/** `lark`: the card to the bot's webhook address. */
export function larkNotifier(config: NotifierConfig): Notifier {
  return {
    async post(event, signal) {
      await postHttp(config.address, JSON.stringify(larkPayload(event)), {
        ...config.http,
        headers: baseHeaders(config),
        signal,
      });
    },
  };
}
