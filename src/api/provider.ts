import { z } from 'zod';
import type { Condition, KObject } from './meta.ts';
import { FluxCel } from '../cel/flux-expressions.ts';
import { celExpression } from './cel-schema.ts';
import { duration, localObjectReference } from './schema-helpers.ts';

export const NotificationGroup = 'notification.toolkit.fluxcd.io';
export const ProviderKind = 'Provider';

/** Every provider type Flux's notification-controller knows (v1beta3). */
export const FLUX_PROVIDER_TYPES = [
  'slack', 'discord', 'msteams', 'rocket', 'generic', 'generic-hmac', 'github', 'gitlab', 'gitea',
  'bitbucketserver', 'bitbucket', 'azuredevops', 'googlechat', 'googlepubsub', 'webex', 'sentry',
  'azureeventhub', 'telegram', 'lark', 'matrix', 'opsgenie', 'alertmanager', 'grafana', 'githubdispatch',
  'pagerduty', 'datadog', 'nats', 'zulip', 'otel',
  'githubpullrequestcomment', 'gitlabmergerequestcomment', 'giteapullrequestcomment', 'zoom', 'incident.io',
] as const;

/** The provider types that set commit statuses (and may have a `commitStatusExpr`), as Flux lists them. */
export const COMMIT_STATUS_PROVIDER_TYPES = ['github', 'gitlab', 'gitea', 'bitbucketserver', 'bitbucket', 'azuredevops'] as const;

/** The provider types Kedge delivers to. */
export const SUPPORTED_PROVIDER_TYPES = [
  'generic', 'generic-hmac', 'slack', 'msteams', 'discord', 'rocket', 'googlechat', 'webex', 'telegram', 'matrix',
  'lark', 'zulip', 'opsgenie', 'pagerduty', 'datadog', 'sentry', 'grafana', 'alertmanager', 'github', 'gitlab',
  'gitea', 'bitbucket', 'bitbucketserver', 'azuredevops', 'githubdispatch',
  'githubpullrequestcomment', 'gitlabmergerequestcomment', 'giteapullrequestcomment', 'zoom', 'incident.io',
  'nats', 'otel',
] as const;

export type ProviderType = (typeof SUPPORTED_PROVIDER_TYPES)[number];

/** Why Kedge refuses each Flux provider type it does not deliver to. */
export const REFUSED_PROVIDER_TYPES: Record<Exclude<(typeof FLUX_PROVIDER_TYPES)[number], ProviderType>, string> = {
  azureeventhub: 'azureeventhub needs Azure Event Hubs over AMQP with Azure credentials, which Kedge does not speak',
  googlepubsub: 'googlepubsub needs Google Cloud credentials exchanged with Google for an access token (a cloud identity)',
};

/** Flux's `ProviderSpec` (notification.toolkit.fluxcd.io/v1beta3), every field. */
export const providerSpecSchema = z.strictObject({
  type: z.enum(FLUX_PROVIDER_TYPES).superRefine((t, ctx) => {
    const reason = (REFUSED_PROVIDER_TYPES as Record<string, string>)[t];
    if (reason) ctx.addIssue({ code: 'custom', message: `${reason}; supported: ${SUPPORTED_PROVIDER_TYPES.join(', ')}` });
  }),
  /** Deprecated in Flux; accepted and ignored. */
  interval: duration.optional(),
  channel: z.string().max(2048).optional(),
  username: z.string().max(2048).optional(),
  address: z.string().max(2048).optional(),
  timeout: duration.optional(),
  /** Deprecated in Flux (use proxySecretRef); still honoured. */
  proxy: z.string().max(2048).regex(/^(http|https):\/\/.*$/, 'must be an http(s):// URL').optional(),
  proxySecretRef: localObjectReference.optional(),
  secretRef: localObjectReference.optional(),
  certSecretRef: localObjectReference.optional(),
  /** CEL (`event`, `alert`, `provider`) giving the commit status key; commit status types only. */
  commitStatusExpr: celExpression(FluxCel.commitStatus).optional(),
  serviceAccountName: z
    .string()
    .refine(
      () => false,
      'serviceAccountName (cloud workload identity: Azure, Google or AWS tokens for the service account) needs a cloud identity provider Kedge cannot use; put a token in secretRef',
    )
    .optional(),
  suspend: z.boolean().optional(),
}).refine((spec) => spec.commitStatusExpr === undefined || (COMMIT_STATUS_PROVIDER_TYPES as readonly string[]).includes(spec.type), {
  message: `commitStatusExpr is only supported for the provider types ${COMMIT_STATUS_PROVIDER_TYPES.join(', ')}`,
  path: ['commitStatusExpr'],
});

export type ProviderSpec = z.infer<typeof providerSpecSchema>;

/** Kedge writes a status for Providers (Flux v1beta3 keeps none): Ready, and DeliveryFailed after a failed send. */
export interface ProviderStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  lastHandledReconcileAt?: string;
}

export type Provider = KObject<ProviderSpec, ProviderStatus>;

/** Flux's default timeout for one notification request. */
export const DEFAULT_PROVIDER_TIMEOUT = '15s';

/** Conditions and reasons of the notification kinds. */
export const NotificationConditions = {
  /** Kedge: the last delivery through this Provider (or for this Alert) failed. */
  DeliveryFailed: 'DeliveryFailed',
  /** Kedge: the spec and its secrets are usable. */
  Validated: 'Validated',
} as const;

export const NotificationReasons = {
  NotificationFailed: 'NotificationFailed',
  ValidationFailed: 'ValidationFailed',
  ProviderNotFound: 'ProviderNotFound',
  SecretNotFound: 'SecretNotFound',
  Initialized: 'Initialized',
} as const;
