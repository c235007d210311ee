import { z } from 'zod';
import type { Artifact } from './gitrepository.ts';
import type { Condition, KObject } from './meta.ts';
import { duration, localObjectReference } from './schema-helpers.ts';

export const BucketKind = 'Bucket';

/**
 * Flux's `BucketSpec` (source.toolkit.fluxcd.io/v1), every field. Kedge speaks the S3 API (`provider:
 * generic`, which also reaches AWS S3, Google Cloud Storage's XML API with HMAC keys, and any S3-compatible
 * server); the cloud providers' own identities (`aws`/`gcp`/`azure` without keys, `sts`, `serviceAccountName`)
 * need that cloud's metadata service and are refused with the way out.
 */
export const bucketSpecSchema = z.strictObject({
  provider: z
    .enum(['generic', 'aws', 'gcp', 'azure'])
    .refine(
      (p) => p === 'generic',
      "only provider: generic (S3 API with access keys) is supported by Kedge: the aws, gcp and azure providers authenticate with that cloud's workload identity, which Kedge cannot reach; use generic with an access key in secretRef",
    )
    .optional(),
  bucketName: z.string().min(1),
  endpoint: z
    .string()
    .min(1)
    .refine(
      (e) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(e),
      'endpoint is a host[:port] without a scheme (use insecure: true for http)',
    ),
  sts: z
    .unknown()
    .optional()
    .refine(
      (v) => v === undefined,
      'sts (security token service credentials) needs a cloud identity and is not supported by Kedge',
    ),
  insecure: z.boolean().optional(),
  region: z.string().optional(),
  prefix: z.string().optional(),
  secretRef: localObjectReference.optional(),
  serviceAccountName: z
    .string()
    .optional()
    .refine(
      (v) => v === undefined,
      'serviceAccountName (workload identity) needs a cloud identity and is not supported by Kedge; use secretRef with access keys',
    ),
  certSecretRef: localObjectReference.optional(),
  proxySecretRef: localObjectReference.optional(),
  interval: duration,
  timeout: duration.optional(),
  ignore: z.string().optional(),
  suspend: z.boolean().optional(),
});

export type BucketSpec = z.infer<typeof bucketSpecSchema>;

export interface BucketStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  /** Flux: the artifact server's address of the current artifact. */
  url?: string;
  artifact?: Artifact;
  observedIgnore?: string;
  lastHandledReconcileAt?: string;
}

export type Bucket = KObject<BucketSpec, BucketStatus>;

/** Flux's default timeout for bucket operations. */
export const DEFAULT_BUCKET_TIMEOUT = '60s';
