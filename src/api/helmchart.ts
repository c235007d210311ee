import { z } from 'zod';
import type { Artifact } from './gitrepository.ts';
import type { Condition, KObject } from './meta.ts';
import { duration } from './schema-helpers.ts';

export const HelmChartKind = 'HelmChart';

/** Kinds a HelmChart takes its chart from. */
export const HelmChartSourceKinds = ['HelmRepository', 'GitRepository', 'Bucket'] as const;

/**
 * Flux's `HelmChartSpec` (source.toolkit.fluxcd.io/v1), every field. `verify` (cosign/notation signatures of
 * OCI charts) is refused: Kedge does not verify chart signatures.
 */
export const helmChartSpecSchema = z.strictObject({
  chart: z.string().min(1),
  version: z.string().optional(),
  sourceRef: z.strictObject({
    apiVersion: z.string().optional(),
    kind: z.enum(HelmChartSourceKinds),
    name: z.string().min(1),
  }),
  interval: duration,
  reconcileStrategy: z.enum(['ChartVersion', 'Revision']).optional(),
  valuesFiles: z.array(z.string().min(1)).optional(),
  ignoreMissingValuesFiles: z.boolean().optional(),
  suspend: z.boolean().optional(),
  accessFrom: z.unknown().optional(),
  verify: z
    .unknown()
    .optional()
    .refine(
      (v) => v === undefined,
      'verify (cosign/notation signature verification) is not supported by Kedge; remove it to pull the chart unverified',
    ),
});

export type HelmChartSpec = z.infer<typeof helmChartSpecSchema>;

export interface HelmChartStatus {
  observedGeneration?: number;
  /** The revision of the source artifact the chart was last built from. */
  observedSourceArtifactRevision?: string;
  observedChartName?: string;
  /** The values files that were found and merged into the chart, in order. */
  observedValuesFiles?: string[];
  conditions?: Condition[];
  url?: string;
  artifact?: Artifact;
  lastHandledReconcileAt?: string;
}

export type HelmChart = KObject<HelmChartSpec, HelmChartStatus>;
