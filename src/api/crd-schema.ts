import { z } from 'zod';

/** An OpenAPI v3 schema as `apiextensions.k8s.io/v1` takes it (`JSONSchemaProps`), loosely typed. */
export type OpenApiSchema = { [field: string]: unknown };

/** JSON Schema keywords the API server has no use for, or refuses in a structural schema. */
const dropped = new Set([
  '$schema',
  'propertyNames',
  'additionalProperties',
  'const',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'anyOf',
  'oneOf',
  'format',
  'id',
  '$id',
]);

/** Formats the API server knows (`k8s.io/kube-openapi` strfmt); any other format is left out. */
const knownFormats = new Set([
  'int32',
  'int64',
  'float',
  'double',
  'byte',
  'date',
  'date-time',
  'password',
  'uri',
  'email',
  'hostname',
  'ipv4',
  'ipv6',
  'cidr',
  'mac',
  'uuid',
  'duration',
]);

/**
 * The structural OpenAPI v3 schema of a zod schema, as a CRD's `openAPIV3Schema` needs it: zod 4's JSON Schema
 * (input side, reused parts inlined) with what the API server refuses rewritten — no `$ref`, no
 * `additionalProperties: false` (a closed object lists `properties`; unknown fields are pruned, or refused with
 * `fieldValidation=Strict`), an open object (`z.looseObject`) `x-kubernetes-preserve-unknown-fields`, a map
 * (`z.record`) `additionalProperties` with its value schema, an integer-or-string union
 * `x-kubernetes-int-or-string`, any other union open, `const` an `enum`, numeric exclusive bounds in OpenAPI 3.0
 * form. Refinements (zod `refine`) have no OpenAPI form: Kedge checks them when it reads the object.
 */
export function structuralSchema(schema: z.ZodType): OpenApiSchema {
  const json = z.toJSONSchema(schema, {
    io: 'input',
    reused: 'inline',
    unrepresentable: 'any',
    target: 'draft-2020-12',
  }) as OpenApiSchema;
  return convert(json, '');
}

function convert(node: OpenApiSchema, at: string): OpenApiSchema {
  if ('$ref' in node)
    throw new Error(`schema at ${at || '/'} is recursive ($ref); a CRD schema cannot express it`);
  const out: OpenApiSchema = {};
  for (const [key, value] of Object.entries(node)) if (!dropped.has(key)) out[key] = value;
  if (typeof node.format === 'string' && knownFormats.has(node.format)) out.format = node.format;
  if ('const' in node) out.enum = [node.const];
  for (const bound of ['exclusiveMinimum', 'exclusiveMaximum'] as const) {
    if (typeof node[bound] === 'number') {
      out[bound === 'exclusiveMinimum' ? 'minimum' : 'maximum'] = node[bound];
      out[bound] = true;
    }
  }
  // zod writes the safe-integer range on every integer; the API server needs no such bound.
  if (out.maximum === Number.MAX_SAFE_INTEGER) delete out.maximum;
  if (out.minimum === Number.MIN_SAFE_INTEGER) delete out.minimum;
  const union = (node.anyOf ?? node.oneOf) as OpenApiSchema[] | undefined;
  if (union !== undefined) return { ...out, ...unionSchema(union) };
  if (node.type === 'object' || node.properties !== undefined) return { ...out, ...objectSchema(node, at) };
  if (node.type === 'array' && node.items !== undefined)
    out.items = convert(node.items as OpenApiSchema, `${at}/items`);
  if (node.type === undefined && out.enum === undefined)
    return { ...out, 'x-kubernetes-preserve-unknown-fields': true };
  return out;
}

function objectSchema(node: OpenApiSchema, at: string): OpenApiSchema {
  const out: OpenApiSchema = { type: 'object' };
  const properties = node.properties as Record<string, OpenApiSchema> | undefined;
  const additional = node.additionalProperties as boolean | OpenApiSchema | undefined;
  if (properties !== undefined && Object.keys(properties).length > 0) {
    out.properties = Object.fromEntries(
      Object.entries(properties).map(([name, p]) => [name, convert(p, `${at}/${name}`)]),
    );
    if (additional !== undefined && additional !== false) out['x-kubernetes-preserve-unknown-fields'] = true;
  } else if (typeof additional === 'object' && Object.keys(additional).length > 0) {
    out.additionalProperties = convert(additional, `${at}/*`);
  } else if (additional !== false) {
    out['x-kubernetes-preserve-unknown-fields'] = true;
  }
  return out;
}

/** `int | string` is Kubernetes' IntOrString; any other union is left open (Kedge validates it on read). */
function unionSchema(branches: OpenApiSchema[]): OpenApiSchema {
  const types = new Set(branches.map((b) => b.type));
  if (types.size === 2 && types.has('string') && (types.has('integer') || types.has('number')))
    return { 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] };
  const enums = branches.every((b) => 'const' in b || Array.isArray(b.enum));
  if (enums && types.size === 1 && branches[0]?.type !== undefined)
    return {
      type: branches[0].type,
      enum: branches.flatMap((b) => ('const' in b ? [b.const] : (b.enum as unknown[]))),
    };
  return { 'x-kubernetes-preserve-unknown-fields': true };
}
