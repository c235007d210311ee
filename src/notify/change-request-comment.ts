import { createHash } from 'node:crypto';
import { DeliveryError } from './delivery-error.ts';
import type { FluxEvent } from './flux-event.ts';
import { jsonArray } from './github.ts';
import { postHttp } from './http-post.ts';
import type { NotifierConfig } from './notifier.ts';

/** The annotation (event metadata key) naming the pull/merge request an object is deployed for, as Flux reads it. */
export const CHANGE_REQUEST_ANNOTATION = 'event.toolkit.fluxcd.io/change_request';
const CHANGE_REQUEST_KEY = 'change_request';

/**
 * The number of the pull/merge request the event is about: the `event.toolkit.fluxcd.io/change_request`
 * metadata (or `change_request`, as Flux has it once the event group prefix is stripped, e.g. from an
 * Alert's eventMetadata). Undefined when absent (Flux drops such events for these providers); a value that
 * is not a positive integer is a DeliveryError.
 */
export function changeRequestNumber(event: FluxEvent): number | undefined {
  const metadata = event.metadata ?? {};
  const value = metadata[CHANGE_REQUEST_ANNOTATION] ?? metadata[CHANGE_REQUEST_KEY];
  if (value === undefined) return undefined;
  if (!/^[1-9][0-9]*$/.test(value.trim()))
    throw new DeliveryError(
      `invalid '${CHANGE_REQUEST_KEY}' metadata value '${value}': not a pull request number`,
      false,
    );
  return Number(value.trim());
}

/**
 * The hidden marker that identifies the comment for one Provider and object, so the next event updates it:
 * `<!-- <prefix>:<provider uid>/<kind>/<namespace>/<name> -->`, as Flux writes it. Without a uid, 8 hex of
 * the Provider's name stand in for it.
 */
export function commentMarker(prefix: string, event: FluxEvent, config: NotifierConfig): string {
  const uid =
    config.provider.uid ??
    createHash('sha256')
      .update(`${config.provider.namespace}/${config.provider.name}`)
      .digest('hex')
      .slice(0, 8);
  const o = event.involvedObject;
  return `<!-- ${prefix}:${uid}/${o.kind}/${o.namespace}/${o.name} -->`;
}

/** Flux's Markdown status post: severity emoji, `<kind>/<namespace>/<name>`, the message and the sorted metadata. */
export function markdownPost(event: FluxEvent): string {
  const o = event.involvedObject;
  const metadata = event.metadata ?? {};
  const lines = Object.keys(metadata)
    .filter((k) => k !== CHANGE_REQUEST_KEY && k !== CHANGE_REQUEST_ANNOTATION)
    .sort()
    .map((k) => `* \`${k}\`: ${metadata[k]}\n`)
    .join('');
  const emoji = event.severity === 'error' ? '⚠️' : 'ℹ️';
  return `## Flux Status\n\n${emoji} ${o.kind}/${o.namespace}/${o.name}\n\n${event.message}\n\nMetadata:\n${lines}`;
}

/** The whole comment: the marker, a blank line, the Markdown post. */
export function commentBody(prefix: string, event: FluxEvent, config: NotifierConfig): string {
  return `${commentMarker(prefix, event, config)}\n\n${markdownPost(event)}`;
}

/** How one forge's API lists, creates and edits the comments of a change request. */
export interface CommentApi {
  /** GET: the authenticated account, whose comments are ours. */
  userUrl: string;
  /** The account's name in the `userUrl` answer. */
  userName(user: Record<string, unknown>): unknown;
  /** GET: the first 100 comments, oldest first. */
  listUrl(number: number): string;
  /** The author's name of a listed comment. */
  author(comment: Record<string, unknown>): unknown;
  /** POST: a new comment. */
  createUrl(number: number): string;
  /** The method and URL that edit comment `id`. */
  edit(number: number, id: unknown): { method: 'PATCH' | 'PUT'; url: string };
}

/**
 * Creates the comment on the change request, or edits the comment this Provider wrote there before for the
 * same object (found among the first 100 by its marker and author), as Flux does.
 */
export async function upsertComment(
  api: CommentApi,
  number: number,
  marker: string,
  body: string,
  config: NotifierConfig,
  headers: Record<string, string>,
  signal: AbortSignal | undefined,
): Promise<void> {
  const get = { ...config.http, method: 'GET' as const, headers, signal };
  const user = await postHttp(api.userUrl, '', get);
  let login: unknown;
  try {
    login = api.userName(JSON.parse(user.body) as Record<string, unknown>);
  } catch {
    login = undefined;
  }
  if (typeof login !== 'string' || !login)
    throw new DeliveryError('failed to get the authenticated user: no login in the answer', false);
  const listed = await postHttp(api.listUrl(number), '', get);
  const mine = jsonArray(listed.body).find(
    (c) => api.author(c) === login && typeof c.body === 'string' && c.body.includes(marker),
  );
  const payload = JSON.stringify({ body });
  if (mine) {
    const { method, url } = api.edit(number, mine.id);
    await postHttp(url, payload, { ...config.http, method, headers, signal });
  } else {
    await postHttp(api.createUrl(number), payload, { ...config.http, headers, signal });
  }
}

/** The nested `<key>.<field>` string of an API object. */
export function nested(value: Record<string, unknown>, key: string, field: string): unknown {
  const inner = value[key];
  return typeof inner === 'object' && inner !== null ? (inner as Record<string, unknown>)[field] : undefined;
}
