import { z } from 'zod';
import type { FluxSnapshot } from './history.ts';
import type { Condition, KObject } from './meta.ts';
import { FluxCel } from '../cel/flux-expressions.ts';
import { celExpression } from './cel-schema.ts';
import { duration } from './schema-helpers.ts';

export const KustomizationGroup = 'kustomize.toolkit.fluxcd.io';
export const KustomizationKind = 'Kustomization';
export const KustomizationApiVersion = `${KustomizationGroup}/v1`;
/** Finalizer Flux's kustomize-controller puts on every Kustomization; the store keeps the object until it is gone. */
export const KustomizationFinalizer = 'finalizers.fluxcd.io';

const stringMap = z.record(z.string(), z.string());

const patchSelector = z.strictObject({
  group: z.string().optional(),
  version: z.string().optional(),
  kind: z.string().optional(),
  name: z.string().optional(),
  namespace: z.string().optional(),
  labelSelector: z.string().optional(),
  annotationSelector: z.string().optional(),
});

const sourceRef = z.strictObject({
  apiVersion: z.string().optional(),
  kind: z
    .enum(['GitRepository', 'OCIRepository', 'Bucket'])
    .refine((k) => k !== 'OCIRepository', 'OCIRepository sources are not supported by Kedge yet: use a GitRepository or a Bucket'),
  name: z.string().min(1),
  namespace: z.string().optional(),
});

const dependency = z.strictObject({
  name: z.string().min(1),
  namespace: z.string().optional(),
  /** CEL (`self`, `dep`): when set, replaces the default readiness check of this dependency. */
  readyExpr: celExpression(FluxCel.readyExpr).optional(),
});

/** The group of an apiVersion: `apps/v1` → `apps`, `v1` → `` (the core group). */
export function groupOfApiVersion(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/** Flux's `CustomHealthCheck`: CEL rules judging objects of one group (and kind, when given). */
const healthCheckExpr = z.strictObject({
  apiVersion: z.string().min(1),
  kind: z.string().optional(),
  current: celExpression(FluxCel.healthCheck),
  inProgress: celExpression(FluxCel.healthCheck).optional(),
  failed: celExpression(FluxCel.healthCheck).optional(),
});

export type HealthCheckExpr = z.infer<typeof healthCheckExpr>;

/** One entry per group and kind (group-only entries count as one kind of their own), as Flux requires. */
const healthCheckExprs = z.array(healthCheckExpr).superRefine((entries, ctx) => {
  const seen = new Map<string, number>();
  entries.forEach((entry, index) => {
    const key = `${groupOfApiVersion(entry.apiVersion)}/${entry.kind ?? ''}`;
    const first = seen.get(key);
    if (first === undefined) seen.set(key, index);
    else {
      const what = entry.kind ? `kind ${entry.kind} of group '${groupOfApiVersion(entry.apiVersion)}'` : `group '${groupOfApiVersion(entry.apiVersion)}'`;
      ctx.addIssue({ code: 'custom', path: [index], message: `duplicate health check expressions for ${what} (first at healthCheckExprs.${first})` });
    }
  });
});

const resourceRef = z.strictObject({
  apiVersion: z.string().optional(),
  kind: z.string().min(1),
  name: z.string().min(1),
  namespace: z.string().optional(),
});

/** Flux's `KustomizationSpec` (kustomize.toolkit.fluxcd.io/v1), every field; unsupported ones are rejected by name. */
export const kustomizationSpecSchema = z.strictObject({
  interval: duration,
  retryInterval: duration.optional(),
  timeout: duration.optional(),
  path: z.string().optional(),
  prune: z.boolean(),
  sourceRef,
  targetNamespace: z.string().max(63).optional(),
  suspend: z.boolean().optional(),
  wait: z.boolean().optional(),
  healthChecks: z.array(resourceRef).optional(),
  healthCheckExprs: healthCheckExprs.optional(),
  dependsOn: z.array(dependency).optional(),
  patches: z.array(z.strictObject({ patch: z.string().min(1), target: patchSelector.optional() })).optional(),
  images: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        newName: z.string().optional(),
        newTag: z.string().optional(),
        digest: z.string().optional(),
      }),
    )
    .optional(),
  components: z.array(z.string().min(1)).optional(),
  ignoreMissingComponents: z.boolean().optional(),
  namePrefix: z.string().optional(),
  nameSuffix: z.string().optional(),
  commonMetadata: z.strictObject({ labels: stringMap.optional(), annotations: stringMap.optional() }).optional(),
  postBuild: z
    .strictObject({
      substitute: stringMap.optional(),
      substituteFrom: z
        .array(z.strictObject({ kind: z.enum(['ConfigMap', 'Secret']), name: z.string().min(1), optional: z.boolean().optional() }))
        .optional(),
    })
    .optional(),
  force: z.boolean().optional(),
  serviceAccountName: z.string().optional(),
  kubeConfig: z
    .strictObject({
      secretRef: z.strictObject({ name: z.string().min(1), key: z.string().optional() }).optional(),
      configMapRef: z
        .strictObject({ name: z.string().min(1) })
        .refine(
          () => false,
          'kubeConfig.configMapRef (a cloud provider\'s workload identity for EKS, AKS or GKE) needs that cloud\'s identity service, which Kedge cannot use; use kubeConfig.secretRef with a kubeconfig',
        )
        .optional(),
    })
    .refine((k) => k.secretRef !== undefined || k.configMapRef !== undefined, 'kubeConfig needs a secretRef')
    .optional(),
  deletionPolicy: z.enum(['MirrorPrune', 'Delete', 'Orphan']).optional(),
  decryption: z
    .strictObject({
      provider: z.literal('sops'),
      secretRef: z.strictObject({ name: z.string().min(1) }).optional(),
      serviceAccountName: z
        .string()
        .refine(
          () => false,
          'decryption.serviceAccountName (cloud KMS workload identity) needs a cloud identity Kedge cannot use: put age or OpenPGP keys in the secretRef Secret',
        )
        .optional(),
    })
    .optional(),
});

export type KustomizationSpec = z.infer<typeof kustomizationSpecSchema>;

/** One applied object in Flux's inventory: `<namespace>_<name>_<group>_<Kind>` and its API version. */
export interface InventoryEntry {
  id: string;
  v: string;
}

export interface KustomizationStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  lastAppliedRevision?: string;
  lastAttemptedRevision?: string;
  lastHandledReconcileAt?: string;
  inventory?: { entries: InventoryEntry[] };
  /** Flux's last five reconcile snapshots, newest first (Kedge's full history is in the store). */
  history?: FluxSnapshot[];
}

export type Kustomization = KObject<KustomizationSpec, KustomizationStatus>;

/** Flux's defaults: retry at `interval`, time out after `interval`. */
export const DEFAULT_DEPENDENCY_REQUEUE = '30s';
