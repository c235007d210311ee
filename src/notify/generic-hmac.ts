import { createHmac } from 'node:crypto';
import { DeliveryError } from './delivery-error.ts';
import { genericHeaders } from './generic.ts';
import { postHttp } from './http-post.ts';
import type { Notifier, NotifierConfig } from './notifier.ts';

/** `sha256=<hex>`: the HMAC-SHA256 of `body` keyed with `key`, as the `X-Signature` header carries it. */
export function signatureHeader(body: string | Buffer, key: string): string {
  return `sha256=${createHmac('sha256', key).update(body).digest('hex')}`;
}

/** `generic-hmac`: the generic payload, signed with the secret's `token` in `X-Signature`. */
export function genericHmacNotifier(config: NotifierConfig): Notifier {
  return {
    async post(event, signal) {
      if (!config.token) throw new DeliveryError("generic-hmac provider needs a 'token' in its secret", false);
      const body = JSON.stringify(event);
      const headers = { ...genericHeaders(config, event), 'x-signature': signatureHeader(body, config.token) };
      await postHttp(config.address, body, { ...config.http, headers, signal });
    },
  };
}
