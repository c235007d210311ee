import { z } from 'zod';
import type { Condition, KObject } from './meta.ts';
import { localObjectReference } from './schema-helpers.ts';

export const AlertKind = 'Alert';

/** Flux's `CrossNamespaceObjectReference` as event sources and receiver resources use it (`name` may be `*`). */
export const notificationObjectReference = z.strictObject({
  apiVersion: z.string().optional(),
  kind: z.enum([
    'Bucket', 'GitRepository', 'Kustomization', 'HelmRelease', 'HelmChart', 'HelmRepository', 'ImageRepository',
    'ImagePolicy', 'ImageUpdateAutomation', 'OCIRepository', 'ArtifactGenerator', 'ExternalArtifact', 'FluxInstance',
    'ResourceSet', 'ResourceSetInputProvider',
    // Kedge's own: the host runtime's App (rollouts, canary failures).
    'App',
  ]),
  name: z.string().min(1).max(253),
  namespace: z.string().min(1).max(253).optional(),
  matchLabels: z.record(z.string(), z.string()).optional(),
});

export type NotificationObjectReference = z.infer<typeof notificationObjectReference>;

/** A regular expression as Flux (Go RE2) would accept it; rejected here when JavaScript cannot compile it. */
const regex = z.string().refine((text) => {
  try {
    new RegExp(text);
    return true;
  } catch {
    return false;
  }
}, 'must be a valid regular expression');

/** Flux's `AlertSpec` (notification.toolkit.fluxcd.io/v1beta3), every field. */
export const alertSpecSchema = z.strictObject({
  providerRef: localObjectReference,
  eventSeverity: z.enum(['info', 'error']).optional(),
  eventSources: z.array(notificationObjectReference).min(1, 'needs at least one event source'),
  inclusionList: z.array(regex).optional(),
  eventMetadata: z.record(z.string(), z.string()).optional(),
  exclusionList: z.array(regex).optional(),
  /** Deprecated in Flux (use eventMetadata.summary); still sent as metadata `summary`. */
  summary: z.string().max(255).optional(),
  suspend: z.boolean().optional(),
});

export type AlertSpec = z.infer<typeof alertSpecSchema>;

export interface AlertStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  lastHandledReconcileAt?: string;
}

export type Alert = KObject<AlertSpec, AlertStatus>;
