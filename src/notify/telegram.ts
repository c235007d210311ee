import { DeliveryError } from './delivery-error.ts';
import type { FluxEvent } from './flux-event.ts';
import { postHttp } from './http-post.ts';
import { baseHeaders, type Notifier, type NotifierConfig } from './notifier.ts';

/** The Bot API Flux sends to; a Provider `address` replaces it (a self-hosted Bot API server). */
export const TELEGRAM_API_URL = 'https://api.telegram.org';

/** Escapes every character MarkdownV2 reserves, as Flux does. */
export function escapeMarkdownV2(text: string): string {
  return text.replace(/[\\.\-_[\]()~>`#+=|{}!*]/g, (c) => `\\${c}`);
}

/** The sendMessage body: `channel` is the chat id, optionally `<chat id>:<topic thread id>`. */
export function telegramPayload(event: FluxEvent, channel: string): Record<string, string> {
  const o = event.involvedObject;
  const emoji = event.severity === 'error' ? '🚨' : '💫';
  const heading = `${emoji} ${o.kind.toLowerCase()}/${o.name}/${o.namespace}`;
  const metadata = Object.entries(event.metadata ?? {})
    .map(([k, v]) => `\\- *${escapeMarkdownV2(k)}*: ${escapeMarkdownV2(v)}\n`)
    .join('');
  const colon = channel.indexOf(':');
  const [chat, thread] =
    colon < 0 ? [channel, undefined] : [channel.slice(0, colon), channel.slice(colon + 1)];
  return {
    chat_id: chat,
    ...(thread ? { message_thread_id: thread } : {}),
    text: `*${escapeMarkdownV2(heading)}*\n${escapeMarkdownV2(event.message)}\n${metadata}`,
    parse_mode: 'MarkdownV2',
  };
}

/** `telegram`: the Bot API's sendMessage at `<address>/bot<token>/sendMessage`; `channel` and `token` required. */
export function telegramNotifier(config: NotifierConfig): Notifier {
  if (!config.channel) throw new DeliveryError('telegram provider needs a channel (the chat id)', false);
  if (!config.token)
    throw new DeliveryError("telegram provider needs a 'token' (the bot token) in its secret", false);
  // Flux ignores the address; Kedge takes an http(s) one as the Bot API server and ignores any other.
  const base = /^https?:\/\//.test(config.address) ? config.address.replace(/\/+$/, '') : TELEGRAM_API_URL;
  const url = `${base}/bot${config.token}/sendMessage`;
  const channel = config.channel;
  return {
    async post(event, signal) {
      await postHttp(url, JSON.stringify(telegramPayload(event, channel)), {
        ...config.http,
        headers: baseHeaders(config),
        signal,
      });
    },
  };
}
