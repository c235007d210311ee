import { z } from 'zod';
import { notificationObjectReference } from './alert.ts';
import type { Condition, KObject } from './meta.ts';
import { FluxCel } from '../cel/flux-expressions.ts';
import { celExpression } from './cel-schema.ts';
import { duration, localObjectReference } from './schema-helpers.ts';

export const ReceiverKind = 'Receiver';

/** Every receiver type Flux's notification-controller knows (v1). */
export const FLUX_RECEIVER_TYPES = [
  'generic', 'generic-hmac', 'github', 'gitlab', 'bitbucket', 'harbor', 'dockerhub', 'quay', 'gcr', 'nexus',
  'acr', 'cdevents',
] as const;

/** The receiver types Kedge validates: every type of Flux's Receiver v1. */
export const SUPPORTED_RECEIVER_TYPES = [
  'generic', 'generic-hmac', 'github', 'gitlab', 'bitbucket', 'harbor', 'dockerhub', 'quay', 'gcr', 'nexus', 'acr',
  'cdevents',
] as const;

export type ReceiverType = (typeof SUPPORTED_RECEIVER_TYPES)[number];

/** Flux's `ReceiverSpec` (notification.toolkit.fluxcd.io/v1), every field. */
export const receiverSpecSchema = z.strictObject({
  type: z
    .enum(FLUX_RECEIVER_TYPES)
    .refine((t) => (SUPPORTED_RECEIVER_TYPES as readonly string[]).includes(t), {
      message: `this receiver type is not supported by Kedge yet; supported: ${SUPPORTED_RECEIVER_TYPES.join(', ')}`,
    }),
  interval: duration.optional(),
  events: z.array(z.string()).optional(),
  resources: z
    .array(
      notificationObjectReference.extend({
        /** CEL (`res`, `req`), in addition to `resourceFilter`: both must accept a resource. */
        filter: celExpression(FluxCel.resourceFilter).optional(),
      }),
    )
    .min(1, 'needs at least one resource'),
  /** CEL (`res`: the resource's metadata, `req`: the JSON request body): reconcile only the resources it accepts. */
  resourceFilter: celExpression(FluxCel.resourceFilter).optional(),
  secretRef: localObjectReference,
  suspend: z.boolean().optional(),
});

export type ReceiverSpec = z.infer<typeof receiverSpecSchema>;

export interface ReceiverStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  /** `/hook/<sha256 hex of token + name + namespace>`, the path to POST to. */
  webhookPath?: string;
  lastHandledReconcileAt?: string;
}

export type Receiver = KObject<ReceiverSpec, ReceiverStatus>;

/** Flux's default reconcile interval of a Receiver. */
export const DEFAULT_RECEIVER_INTERVAL = '10m';
