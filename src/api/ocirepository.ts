import { z } from 'zod';
import { OciReferenceError, isValidDigest, isValidTag, parseOciUrl } from '../source/oci/oci-reference.ts';
import type { Artifact } from './gitrepository.ts';
import type { Condition, KObject } from './meta.ts';
import { duration, localObjectReference } from './schema-helpers.ts';

export const OCIRepositoryKind = 'OCIRepository';

/** Flux's layer operations: unpack the layer's tar.gz into the artifact, or store the layer as it is. */
export const OCILayerExtract = 'extract';
export const OCILayerCopy = 'copy';

/** Flux's default timeout for OCI operations, and the tag pulled without a `ref`. */
export const DEFAULT_OCI_TIMEOUT = '60s';
export const DEFAULT_OCI_TAG = 'latest';

const ociUrl = z
  .string()
  .regex(/^oci:\/\/.+$/, "must be an oci:// URL: 'oci://<registry>/<repository>'")
  .superRefine((url, ctx) => {
    if (!url.startsWith('oci://')) return;
    try {
      parseOciUrl(url, { allowReference: false });
    } catch (error) {
      if (!(error instanceof OciReferenceError)) throw error;
      ctx.addIssue({ code: 'custom', message: error.message });
    }
  });

export const ociLayerSelectorSchema = z.strictObject({
  mediaType: z.string().optional(),
  operation: z.enum([OCILayerExtract, OCILayerCopy]).optional(),
});

export type OCILayerSelector = z.infer<typeof ociLayerSelectorSchema>;

/**
 * Flux's `OCIRepositorySpec` (source.toolkit.fluxcd.io/v1), every field. `provider` other than `generic`
 * (a cloud's workload identity) and `verify` (cosign/notation signatures) are accepted as Flux accepts them and
 * reported as not supported on the object (Ready=False), so a repository that declares them still applies.
 */
export const ociRepositorySpecSchema = z.strictObject({
  url: ociUrl,
  ref: z
    .strictObject({
      digest: z
        .string()
        .refine(isValidDigest, "must be a digest such as 'sha256:<64 hex digits>'")
        .optional(),
      semver: z.string().optional(),
      semverFilter: z.string().optional(),
      tag: z
        .string()
        .refine(isValidTag, 'must be a valid OCI tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})')
        .optional(),
    })
    .optional(),
  layerSelector: ociLayerSelectorSchema.optional(),
  provider: z.enum(['generic', 'aws', 'azure', 'gcp']).optional(),
  secretRef: localObjectReference.optional(),
  verify: z
    .strictObject({
      provider: z.enum(['cosign', 'notation']),
      secretRef: localObjectReference.optional(),
      matchOIDCIdentity: z.array(z.strictObject({ issuer: z.string(), subject: z.string() })).optional(),
      trustedRootSecretRef: localObjectReference.optional(),
    })
    .optional(),
  serviceAccountName: z.string().optional(),
  certSecretRef: localObjectReference.optional(),
  proxySecretRef: localObjectReference.optional(),
  interval: duration,
  timeout: duration.optional(),
  ignore: z.string().optional(),
  insecure: z.boolean().optional(),
  suspend: z.boolean().optional(),
});

export type OCIRepositorySpec = z.infer<typeof ociRepositorySpecSchema>;

export interface OCIRepositoryStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  /** Flux: the artifact server's address of the current artifact. */
  url?: string;
  artifact?: Artifact;
  observedIgnore?: string;
  observedLayerSelector?: OCILayerSelector;
  lastHandledReconcileAt?: string;
}

export type OCIRepository = KObject<OCIRepositorySpec, OCIRepositoryStatus>;
