import type { KObject } from '../api/meta.ts';

/** Top-level fields that are not part of an object's body: identity, metadata and observed state. */
const envelopeFields = new Set(['apiVersion', 'kind', 'metadata', 'status']);

/**
 * Every top-level field of `object` except apiVersion, kind, metadata and status: `spec` for most kinds,
 * `data`/`stringData`/`binaryData`/`type`/`immutable` for core Secret and ConfigMap. Undefined fields are left out.
 */
export function bodyOf(object: KObject): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(object)) {
    if (!envelopeFields.has(field) && value !== undefined) body[field] = value;
  }
  return body;
}

/**
 * The part of a body whose change bumps `generation`: `spec` when the body has one, else the whole body
 * (core kinds without spec, such as Secret and ConfigMap).
 */
export function desiredStateOf(body: Record<string, unknown>): unknown {
  return 'spec' in body ? body.spec : body;
}
