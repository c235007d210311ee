import { z } from 'zod';
import type { Artifact } from './gitrepository.ts';
import type { Condition, KObject } from './meta.ts';
import { duration, localObjectReference } from './schema-helpers.ts';

export const HelmRepositoryKind = 'HelmRepository';

/**
 * Flux's `HelmRepositorySpec` (source.toolkit.fluxcd.io/v1), every field. `type: default` is an HTTP(S) chart
 * repository whose `index.yaml` becomes the artifact; `type: oci` is a static data container a HelmChart pulls
 * charts through. The cloud providers' identities (`provider: aws|azure|gcp`) need that cloud's metadata
 * service and are refused with the way out.
 */
export const helmRepositorySpecSchema = z
  .strictObject({
    url: z.string().regex(/^(https?|oci):\/\/.+$/, 'url must start with http://, https:// or oci://'),
    secretRef: localObjectReference.optional(),
    certSecretRef: localObjectReference.optional(),
    passCredentials: z.boolean().optional(),
    insecure: z.boolean().optional(),
    interval: duration.optional(),
    timeout: duration.optional(),
    suspend: z.boolean().optional(),
    accessFrom: z.unknown().optional(),
    type: z.enum(['default', 'oci']).optional(),
    provider: z
      .enum(['generic', 'aws', 'azure', 'gcp'])
      .refine(
        (p) => p === 'generic',
        "only provider: generic (static credentials in secretRef) is supported by Kedge: the aws, azure and gcp providers authenticate with that cloud's workload identity, which Kedge cannot reach",
      )
      .optional(),
  })
  .superRefine((spec, ctx) => {
    const oci = spec.type === 'oci';
    if (oci && !spec.url.startsWith('oci://'))
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'type: oci needs an oci:// url' });
    if (!oci && spec.url.startsWith('oci://'))
      ctx.addIssue({
        code: 'custom',
        path: ['url'],
        message:
          "an oci:// url needs type: oci ('oci' URL scheme cannot be used with 'default' HelmRepository type)",
      });
  });

export type HelmRepositorySpec = z.infer<typeof helmRepositorySpecSchema>;

export interface HelmRepositoryStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  /** Flux: the artifact server's address of the current index (`…/index.yaml`). */
  url?: string;
  artifact?: Artifact;
  lastHandledReconcileAt?: string;
}

export type HelmRepository = KObject<HelmRepositorySpec, HelmRepositoryStatus>;

/** Flux's defaults for a HelmRepository. */
export const DEFAULT_HELM_REPOSITORY_INTERVAL = '1m';
export const DEFAULT_HELM_REPOSITORY_TIMEOUT = '60s';
