import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { customResourceDefinitions } from './crds.ts';
import { structuralSchema } from './crd-schema.ts';

describe('structuralSchema', () => {
  it.each([
    [
      'a closed object lists its properties only',
      z.strictObject({ a: z.string() }),
      { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] },
    ],
    [
      'an open object keeps unknown fields',
      z.looseObject({ a: z.string().optional() }),
      { type: 'object', properties: { a: { type: 'string' } }, 'x-kubernetes-preserve-unknown-fields': true },
    ],
    [
      'a map has its value schema',
      z.record(z.string(), z.string()),
      { type: 'object', additionalProperties: { type: 'string' } },
    ],
    [
      'an int-or-string union',
      z.union([z.number().int().min(0), z.string()]),
      { 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] },
    ],
    ['an integer without zod safe-integer bounds', z.number().int().min(1), { type: 'integer', minimum: 1 }],
    ['a default', z.number().int().default(1), { type: 'integer', default: 1 }],
    ['an enum', z.enum(['a', 'b']), { type: 'string', enum: ['a', 'b'] }],
    [
      'a pattern and a refinement (which has no OpenAPI form)',
      z
        .string()
        .regex(/^x/)
        .refine(() => true),
      { type: 'string', pattern: '^x' },
    ],
  ])('%s', (_name, schema, expected) => {
    expect(structuralSchema(schema)).toEqual(expected);
  });

  it('refuses a recursive schema, which a CRD cannot express', () => {
    const node: z.ZodType = z.object({
      get children() {
        return z.array(node);
      },
    });
    expect(() => structuralSchema(node)).toThrow(/recursive/);
  });
});

describe('customResourceDefinitions', () => {
  it('has no $ref and no additionalProperties beside properties anywhere', () => {
    const bad: string[] = [];
    const walk = (node: unknown, at: string): void => {
      if (node === null || typeof node !== 'object') return;
      const record = node as Record<string, unknown>;
      if ('$ref' in record) bad.push(`${at}: $ref`);
      if (at.includes('openAPIV3Schema') && 'properties' in record && 'additionalProperties' in record)
        bad.push(`${at}: additionalProperties with properties`);
      for (const [key, value] of Object.entries(record)) walk(value, `${at}/${key}`);
    };
    for (const crd of customResourceDefinitions()) walk(crd, crd.metadata.name);
    expect(bad).toEqual([]);
  });
});
