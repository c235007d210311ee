import { z } from 'zod';
import { DURATION_PATTERN, parseDuration } from './duration.ts';

/** Shared schema pieces for Flux-shaped specs. */

/**
 * A Go duration (Flux's pattern `^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`) that is at least one millisecond. Every
 * duration Kedge stores is an interval or a timeout, and zero makes a hot loop (a zero interval reconciles
 * back to back) or fails at once (a zero timeout), so `0s`, `0m0s` and sub-millisecond values are refused.
 */
export const duration = z
  .string()
  .regex(DURATION_PATTERN, 'must be a duration such as 30s, 5m or 1h')
  .refine(
    (text) => !DURATION_PATTERN.test(text) || parseDuration(text) > 0,
    'must be greater than zero, e.g. 30s, 5m or 1h',
  );

export const localObjectReference = z.strictObject({ name: z.string().min(1) });

export const crossNamespaceReference = z.strictObject({
  apiVersion: z.string().optional(),
  kind: z.string().min(1),
  name: z.string().min(1),
  namespace: z.string().optional(),
});

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** metadata as found in a manifest: only what users may set. */
export const objectMetaInput = z.looseObject({
  name: z.string().max(253).regex(dnsSubdomain, 'must be a lowercase DNS subdomain (a-z, 0-9, - and .)'),
  namespace: z.string().max(63).regex(dnsLabel, 'must be a lowercase DNS label (a-z, 0-9 and -)').optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
