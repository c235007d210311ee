import { z } from 'zod';

/** core/v1 Secret, as Kedge's engine reads it (credentials for sources, values for substitution). */
export const secretBodySchema = z.strictObject({
  type: z.string().optional(),
  data: z
    .record(z.string(), z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64-encoded'))
    .optional(),
  stringData: z.record(z.string(), z.string()).optional(),
  immutable: z.boolean().optional(),
});

/** core/v1 ConfigMap. */
export const configMapBodySchema = z.strictObject({
  data: z.record(z.string(), z.string()).optional(),
  binaryData: z.record(z.string(), z.string()).optional(),
  immutable: z.boolean().optional(),
});

/** A Secret's values, decoded: `stringData` wins over `data`, as the Kubernetes API merges them. */
export function secretValues(secret: Record<string, unknown>): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [k, v] of Object.entries((secret.data ?? {}) as Record<string, string>)) {
    values[k] = Buffer.from(v, 'base64').toString('utf8');
  }
  Object.assign(values, (secret.stringData ?? {}) as Record<string, string>);
  return values;
}
