import { z } from 'zod';
import { FluxCel } from '../cel/flux-expressions.ts';
import { celExpression } from './cel-schema.ts';
import type { Condition, KObject } from './meta.ts';
import { duration } from './schema-helpers.ts';

export const HelmReleaseGroup = 'helm.toolkit.fluxcd.io';
export const HelmReleaseKind = 'HelmRelease';
export const HelmReleaseApiVersion = `${HelmReleaseGroup}/v2`;
/** Finalizer Flux's helm-controller puts on every HelmRelease: the release is uninstalled before it goes. */
export const HelmReleaseFinalizer = 'finalizers.fluxcd.io';

/** helm-controller's own condition types. */
export const HelmConditions = {
  Released: 'Released',
  TestSuccess: 'TestSuccess',
  Remediated: 'Remediated',
  Drifted: 'Drifted',
} as const;

/** helm-controller's reasons, plus Flux runtime ones it uses. */
export const HelmReasons = {
  InstallSucceeded: 'InstallSucceeded',
  InstallFailed: 'InstallFailed',
  UpgradeSucceeded: 'UpgradeSucceeded',
  UpgradeFailed: 'UpgradeFailed',
  TestSucceeded: 'TestSucceeded',
  TestFailed: 'TestFailed',
  RollbackSucceeded: 'RollbackSucceeded',
  RollbackFailed: 'RollbackFailed',
  UninstallSucceeded: 'UninstallSucceeded',
  UninstallFailed: 'UninstallFailed',
  ArtifactFailed: 'ArtifactFailed',
  InitFailed: 'InitFailed',
  DependencyNotReady: 'DependencyNotReady',
  DriftDetected: 'DriftDetected',
  NoDriftDetected: 'NoDriftDetected',
  HelmChartNotReady: 'HelmChartNotReady',
  ValuesError: 'ValuesError',
  RetriesExceeded: 'RetriesExceeded',
  MissingRollbackTarget: 'MissingRollbackTarget',
  StateError: 'StateError',
} as const;

const stringMap = z.record(z.string(), z.string());
const crdsPolicy = z.enum(['Skip', 'Create', 'CreateReplace']);
const dependency = z.strictObject({
  name: z.string().min(1),
  namespace: z.string().optional(),
  readyExpr: celExpression(FluxCel.readyExpr).optional(),
});
const actionStrategy = z.strictObject({
  name: z.enum(['RemediateOnFailure', 'RetryOnFailure']),
  retryInterval: duration.optional(),
});
const selector = z.strictObject({
  group: z.string().optional(),
  version: z.string().optional(),
  kind: z.string().optional(),
  name: z.string().optional(),
  namespace: z.string().optional(),
  labelSelector: z.string().optional(),
  annotationSelector: z.string().optional(),
});

const chartTemplate = z.strictObject({
  metadata: z.strictObject({ labels: stringMap.optional(), annotations: stringMap.optional() }).optional(),
  spec: z.strictObject({
    chart: z.string().min(1).max(2048),
    version: z.string().optional(),
    sourceRef: z.strictObject({
      apiVersion: z.string().optional(),
      kind: z.enum(['HelmRepository', 'GitRepository', 'Bucket']),
      name: z.string().min(1),
      namespace: z.string().optional(),
    }),
    interval: duration.optional(),
    reconcileStrategy: z.enum(['ChartVersion', 'Revision']).optional(),
    valuesFiles: z.array(z.string()).optional(),
    ignoreMissingValuesFiles: z.boolean().optional(),
    verify: z
      .strictObject({
        provider: z.enum(['cosign', 'notation']),
        secretRef: z.strictObject({ name: z.string().min(1) }).optional(),
      })
      .optional(),
  }),
});

const remediation = {
  retries: z.number().int().optional(),
  ignoreTestFailures: z.boolean().optional(),
  remediateLastFailure: z.boolean().optional(),
};

/** Flux's `HelmReleaseSpec` (helm.toolkit.fluxcd.io/v2), every field. */
export const helmReleaseSpecSchema = z
  .strictObject({
    chart: chartTemplate.optional(),
    chartRef: z
      .strictObject({
        apiVersion: z.string().optional(),
        kind: z.enum(['OCIRepository', 'HelmChart']),
        name: z.string().min(1),
        namespace: z.string().optional(),
      })
      .optional(),
    interval: duration,
    kubeConfig: z
      .strictObject({
        secretRef: z.strictObject({ name: z.string().min(1), key: z.string().optional() }).optional(),
        configMapRef: z
          .strictObject({ name: z.string().min(1) })
          .refine(
            () => false,
            "kubeConfig.configMapRef (a cloud provider's workload identity) needs that cloud's identity service, which Kedge cannot use; use kubeConfig.secretRef with a kubeconfig",
          )
          .optional(),
      })
      .optional(),
    suspend: z.boolean().optional(),
    releaseName: z.string().min(1).max(53).optional(),
    targetNamespace: z.string().min(1).max(63).optional(),
    storageNamespace: z.string().min(1).max(63).optional(),
    dependsOn: z.array(dependency).optional(),
    timeout: duration.optional(),
    maxHistory: z.number().int().min(0).optional(),
    serviceAccountName: z.string().min(1).optional(),
    persistentClient: z.boolean().optional(),
    driftDetection: z
      .strictObject({
        mode: z.enum(['enabled', 'warn', 'disabled']).optional(),
        ignore: z
          .array(z.strictObject({ paths: z.array(z.string()), target: selector.optional() }))
          .optional(),
      })
      .optional(),
    install: z
      .strictObject({
        timeout: duration.optional(),
        remediation: z.strictObject(remediation).optional(),
        strategy: actionStrategy.optional(),
        disableWait: z.boolean().optional(),
        disableWaitForJobs: z.boolean().optional(),
        disableHooks: z.boolean().optional(),
        disableOpenAPIValidation: z.boolean().optional(),
        disableSchemaValidation: z.boolean().optional(),
        replace: z.boolean().optional(),
        skipCRDs: z.boolean().optional(),
        crds: crdsPolicy.optional(),
        createNamespace: z.boolean().optional(),
        serverSideApply: z.boolean().optional(),
      })
      .optional(),
    upgrade: z
      .strictObject({
        timeout: duration.optional(),
        remediation: z
          .strictObject({ ...remediation, strategy: z.enum(['rollback', 'uninstall']).optional() })
          .optional(),
        strategy: actionStrategy.optional(),
        disableWait: z.boolean().optional(),
        disableWaitForJobs: z.boolean().optional(),
        disableHooks: z.boolean().optional(),
        disableOpenAPIValidation: z.boolean().optional(),
        disableSchemaValidation: z.boolean().optional(),
        disableTakeOwnership: z.boolean().optional(),
        force: z.boolean().optional(),
        preserveValues: z.boolean().optional(),
        cleanupOnFail: z.boolean().optional(),
        crds: crdsPolicy.optional(),
        serverSideApply: z.enum(['enabled', 'disabled', 'auto']).optional(),
      })
      .optional(),
    test: z
      .strictObject({
        enable: z.boolean().optional(),
        timeout: duration.optional(),
        ignoreFailures: z.boolean().optional(),
        filters: z
          .array(z.strictObject({ name: z.string().min(1), exclude: z.boolean().optional() }))
          .optional(),
      })
      .optional(),
    rollback: z
      .strictObject({
        timeout: duration.optional(),
        disableWait: z.boolean().optional(),
        disableWaitForJobs: z.boolean().optional(),
        disableHooks: z.boolean().optional(),
        recreate: z.boolean().optional(),
        force: z.boolean().optional(),
        cleanupOnFail: z.boolean().optional(),
        serverSideApply: z.enum(['enabled', 'disabled', 'auto']).optional(),
      })
      .optional(),
    uninstall: z
      .strictObject({
        timeout: duration.optional(),
        disableHooks: z.boolean().optional(),
        keepHistory: z.boolean().optional(),
        disableWait: z.boolean().optional(),
        deletionPropagation: z.enum(['background', 'foreground', 'orphan']).optional(),
      })
      .optional(),
    valuesFrom: z
      .array(
        z.strictObject({
          kind: z.enum(['ConfigMap', 'Secret']),
          name: z.string().min(1).max(253),
          valuesKey: z.string().max(253).optional(),
          targetPath: z.string().max(250).optional(),
          optional: z.boolean().optional(),
        }),
      )
      .optional(),
    values: z.record(z.string(), z.unknown()).optional(),
    postRenderers: z
      .array(
        z.strictObject({
          kustomize: z
            .strictObject({
              patches: z
                .array(z.strictObject({ patch: z.string().min(1), target: selector.optional() }))
                .optional(),
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
            })
            .optional(),
        }),
      )
      .optional(),
    commonMetadata: z
      .strictObject({ labels: stringMap.optional(), annotations: stringMap.optional() })
      .optional(),
  })
  .refine((spec) => (spec.chart === undefined) !== (spec.chartRef === undefined), {
    message: 'exactly one of chart or chartRef must be set',
  });

export type HelmReleaseSpec = z.infer<typeof helmReleaseSpecSchema>;

/** One release in `status.history`, as Flux's `Snapshot`. */
export interface Snapshot {
  apiVersion?: string;
  /** `sha256:` of the release as stored. */
  digest: string;
  name: string;
  namespace: string;
  version: number;
  status: string;
  chartName: string;
  chartVersion: string;
  appVersion?: string;
  configDigest: string;
  firstDeployed: string;
  lastDeployed: string;
  deleted?: string;
  testHooks?: Record<string, { lastStarted?: string; lastCompleted?: string; phase?: string }>;
  ociDigest?: string;
}

export interface HelmReleaseStatus {
  observedGeneration?: number;
  lastHandledReconcileAt?: string;
  lastHandledForceAt?: string;
  lastHandledResetAt?: string;
  conditions?: Condition[];
  helmChart?: string;
  storageNamespace?: string;
  history?: Snapshot[];
  lastAttemptedReleaseAction?: 'install' | 'upgrade';
  failures?: number;
  installFailures?: number;
  upgradeFailures?: number;
  lastAttemptedRevision?: string;
  lastAttemptedRevisionDigest?: string;
  lastAttemptedConfigDigest?: string;
  lastAttemptedGeneration?: number;
  observedPostRenderersDigest?: string;
  observedCommonMetadataDigest?: string;
  /** The objects of the current release, as Flux's helm-controller lists them. */
  inventory?: { entries: { id: string; v: string }[] };
}

export type HelmRelease = KObject<HelmReleaseSpec, HelmReleaseStatus>;

/** Flux's release name: `spec.releaseName`, else `[targetNamespace-]name`. */
export function releaseNameOf(hr: HelmRelease): string {
  const spec = hr.spec!;
  if (spec.releaseName) return spec.releaseName;
  return spec.targetNamespace ? `${spec.targetNamespace}-${hr.metadata.name}` : hr.metadata.name;
}

/** Flux's default history kept in storage. */
export const DEFAULT_MAX_HISTORY = 5;
/** Flux's default action timeout. */
export const DEFAULT_HELM_TIMEOUT = '5m';
/** Annotation `flux reconcile hr --force` sets: run a one-off upgrade/install now. */
export const ForceRequestAnnotation = 'reconcile.fluxcd.io/forceAt';
/** Annotation `flux reconcile hr --reset` sets: reset the failure counters. */
export const ResetRequestAnnotation = 'reconcile.fluxcd.io/resetAt';
