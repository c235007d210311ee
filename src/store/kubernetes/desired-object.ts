import type { KObject } from '../../api/meta.ts';
import { jsonEqual } from '../canonical-json.ts';
import { bodyOf } from '../desired-state.ts';
import type { KindPaths } from './kind-paths.ts';

/*
 * How a Store write turns into the object PUT to the API server, and when it changes nothing: the caller sets
 * labels, annotations and the body (spec, or a core kind's data); everything else comes from the live object.
 */

/** The metadata a Store caller sets: labels and annotations (absent ones removed). */
export function userMetadata(object: KObject): Pick<KObject['metadata'], 'labels' | 'annotations'> {
  return { labels: object.metadata.labels, annotations: object.metadata.annotations };
}

/** `live` with its body (spec, or a core kind's data) replaced by `object`'s, keeping status. */
export function replaceBody(live: KObject, object: KObject, paths: KindPaths): KObject {
  const next: KObject = {
    apiVersion: paths.apiVersion,
    kind: live.kind,
    metadata: live.metadata,
    ...bodyOf(object),
  };
  if (live.status !== undefined) next.status = live.status;
  return next;
}

/** Same labels and annotations, and every field of `next`'s body is in `live`'s with the same value. */
export function onlyFieldsMore(live: KObject, next: KObject): boolean {
  return (
    jsonEqual(live.metadata.labels ?? {}, next.metadata.labels ?? {}) &&
    jsonEqual(live.metadata.annotations ?? {}, next.metadata.annotations ?? {}) &&
    contains(bodyOf(live), bodyOf(next))
  );
}

function contains(whole: unknown, part: unknown): boolean {
  if (Array.isArray(part))
    return (
      Array.isArray(whole) && whole.length === part.length && part.every((p, i) => contains(whole[i], p))
    );
  if (part !== null && typeof part === 'object') {
    if (whole === null || typeof whole !== 'object' || Array.isArray(whole)) return false;
    const record = whole as Record<string, unknown>;
    return Object.entries(part).every(([key, value]) => key in record && contains(record[key], value));
  }
  return whole === part;
}

/** Same labels, annotations and body (regardless of key order). */
export function sameDesired(live: KObject, next: KObject): boolean {
  return (
    jsonEqual(bodyOf(live), bodyOf(next)) &&
    jsonEqual(live.metadata.labels ?? {}, next.metadata.labels ?? {}) &&
    jsonEqual(live.metadata.annotations ?? {}, next.metadata.annotations ?? {})
  );
}
