import { createHash } from 'node:crypto';
import { DeliveryError } from './delivery-error.ts';
import { eventTitle, type FluxEvent } from './flux-event.ts';
import { postHttp } from './http-post.ts';
import { baseHeaders, type Notifier, type NotifierConfig } from './notifier.ts';

/** The m.text message Flux sends: 💫 or 🚨 with the object, the message, a `- key: value` line per metadata entry. */
export function matrixPayload(event: FluxEvent): { body: string; msgtype: 'm.text' } {
  const emoji = event.severity === 'error' ? '🚨' : '💫';
  const metadata = Object.entries(event.metadata ?? {})
    .map(([k, v]) => `- ${k}: ${v}\n`)
    .join('');
  return { body: `${emoji} ${eventTitle(event)}\n${event.message}\n${metadata}`, msgtype: 'm.text' };
}

/** The transaction id: sha1 of the event's JSON, so a retried send of one event is one message. */
export function matrixTransactionId(event: FluxEvent): string {
  return createHash('sha1').update(JSON.stringify(event)).digest('hex');
}

/**
 * `matrix`: PUT `<homeserver>/_matrix/client/r0/rooms/<channel>/send/m.room.message/<txn>` with the access
 * token as bearer; `channel` is the room id.
 */
export function matrixNotifier(config: NotifierConfig): Notifier {
  if (!config.channel) throw new DeliveryError('matrix provider needs a channel (the room id)', false);
  const base = config.address.replace(/\/+$/, '');
  const room = config.channel;
  return {
    async post(event, signal) {
      const url = `${base}/_matrix/client/r0/rooms/${room}/send/m.room.message/${matrixTransactionId(event)}`;
      const headers = { ...baseHeaders(config), authorization: `Bearer ${config.token ?? ''}` };
      await postHttp(url, JSON.stringify(matrixPayload(event)), {
        ...config.http,
        method: 'PUT',
        headers,
        signal,
      });
    },
  };
}
