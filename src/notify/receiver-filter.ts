import type { IncomingHttpHeaders } from 'node:http';
import type { KObject } from '../api/meta.ts';
import type { Receiver } from '../api/receiver.ts';
import { compileCel } from '../cel/cel-expression.ts';
import { FluxCel } from '../cel/flux-expressions.ts';

/** The webhook request a Receiver's filters may read. */
export interface ReceiverRequest {
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Decides whether a resource selected by `resources[index]` is reconciled. Throws when an expression fails. */
export type ResourceFilter = (object: KObject) => boolean;

/** The request body is JSON-typed but does not parse. */
export class ReceiverBodyError extends Error {
  override name = 'ReceiverBodyError';
}

/** `req`: the JSON body when the request says `application/json`, else an empty map (as Flux). */
function requestVariable(request: ReceiverRequest | undefined): Record<string, unknown> {
  const types = String(request?.headers['content-type'] ?? '').split(',');
  const json = types.some((t) => t.split(';')[0]?.trim().toLowerCase() === 'application/json');
  if (!request || !json) return {};
  try {
    const value: unknown = JSON.parse(request.body.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch (error) {
    throw new ReceiverBodyError(`failed to parse request body as JSON: ${(error as Error).message}`);
  }
}

/**
 * The filter of each entry of `spec.resources` (aligned with it): `resourceFilter` and the entry's own
 * `filter`, both CEL over `res` (the resource's apiVersion, kind and metadata, what Flux reads) and `req`
 * (the request body, parsed once) and, on a generic-oidc Receiver, `claims` (the verified token's claims);
 * a resource is reconciled only when every expression set accepts it.
 * Entries without any expression accept everything. Throws {@link ReceiverBodyError} when an expression
 * needs a JSON body that does not parse.
 */
export function receiverResourceFilters(
  receiver: Receiver,
  request: ReceiverRequest | undefined,
  claims?: Record<string, unknown>,
): ResourceFilter[] {
  const spec = receiver.spec!;
  const accept: ResourceFilter = () => true;
  if (!spec.resourceFilter && !spec.resources.some((r) => r.filter)) return spec.resources.map(() => accept);
  const req = requestVariable(request);
  const oidc = spec.type === 'generic-oidc';
  const options = oidc ? FluxCel.oidcResourceFilter : FluxCel.resourceFilter;
  const top = spec.resourceFilter ? compileCel(spec.resourceFilter, options) : undefined;
  return spec.resources.map((resource) => {
    const own = resource.filter ? compileCel(resource.filter, options) : undefined;
    const expressions = [top, own].filter((e) => e !== undefined);
    return (object) => {
      const res = { apiVersion: object.apiVersion, kind: object.kind, metadata: object.metadata };
      return expressions.every((e) =>
        e.evaluateBoolean(oidc ? { res, req, claims: claims ?? {} } : { res, req }),
      );
    };
  });
}
