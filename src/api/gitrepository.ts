import { z } from 'zod';
import type { Condition, KObject } from './meta.ts';
import { duration, localObjectReference } from './schema-helpers.ts';

export const GitRepositoryGroup = 'source.toolkit.fluxcd.io';
export const GitRepositoryKind = 'GitRepository';

/** Flux's `GitRepositorySpec` (source.toolkit.fluxcd.io/v1), every field; Kedge also accepts file:// URLs. */
export const gitRepositorySpecSchema = z.strictObject({
  url: z
    .string()
    .regex(/^(https?|ssh|git|file):\/\/.+$/, 'must be an http(s)://, ssh://, git:// or file:// URL'),
  secretRef: localObjectReference.optional(),
  provider: z
    .enum(['generic', 'aws', 'azure', 'github'])
    .refine(
      (p) => p === 'generic' || p === 'github',
      "the aws and azure providers authenticate with that cloud's workload identity (CodeCommit, Azure DevOps), which Kedge cannot use; use provider: generic with a token in secretRef, or github with a GitHub App",
    )
    .optional(),
  serviceAccountName: z
    .string()
    .refine(
      () => false,
      'serviceAccountName (cloud workload identity) needs a cloud identity service, which Kedge cannot use; put credentials in secretRef',
    )
    .optional(),
  interval: duration,
  timeout: duration.optional(),
  ref: z
    .strictObject({
      branch: z.string().min(1).optional(),
      tag: z.string().min(1).optional(),
      semver: z.string().min(1).optional(),
      name: z.string().min(1).optional(),
      commit: z
        .string()
        .regex(/^[0-9a-f]{40}$/, 'must be a full 40-character SHA-1 commit hash')
        .optional(),
    })
    .optional(),
  verify: z
    .strictObject({
      /** Flux accepts `head` for `HEAD`. */
      mode: z.enum(['head', 'HEAD', 'Tag', 'TagAndHEAD']).default('HEAD').optional(),
      secretRef: localObjectReference,
    })
    .optional(),
  proxySecretRef: localObjectReference.optional(),
  ignore: z.string().optional(),
  suspend: z.boolean().optional(),
  recurseSubmodules: z.boolean().optional(),
  include: z
    .array(
      z.strictObject({
        repository: localObjectReference,
        fromPath: z.string().optional(),
        toPath: z.string().optional(),
      }),
    )
    .optional(),
  sparseCheckout: z.array(z.string().min(1)).optional(),
});

export type GitRepositorySpec = z.infer<typeof gitRepositorySpecSchema>;

/** An artifact as Flux records it in a source's status. */
export interface Artifact {
  /** Flux v1 revision: `main@sha1:<hex>`, `v1.2.0@sha1:<hex>`, `sha1:<hex>`. */
  revision: string;
  /** `sha256:<hex>` of the file. */
  digest: string;
  /** Path relative to the storage root: `<kind>/<namespace>/<name>/<file>`. */
  path: string;
  /** Where the artifact server serves it. */
  url: string;
  size?: number;
  /** RFC 3339 time the artifact was written. */
  lastUpdateTime: string;
  metadata?: Record<string, string>;
}

export interface GitRepositoryStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  artifact?: Artifact;
  includedArtifacts?: Artifact[];
  observedIgnore?: string;
  observedRecurseSubmodules?: boolean;
  observedInclude?: GitRepositorySpec['include'];
  observedSparseCheckout?: string[];
  lastHandledReconcileAt?: string;
}

export type GitRepository = KObject<GitRepositorySpec, GitRepositoryStatus>;

/** Any source kind a Kustomization can take its artifact from (GitRepository, Bucket): status carries the artifact. */
export type ArtifactSource = KObject<unknown, { conditions?: Condition[]; artifact?: Artifact }>;

/** Flux's default request timeout for git operations. */
export const DEFAULT_GIT_TIMEOUT = '60s';
