import { z } from 'zod';
import { notificationObjectReference } from './alert.ts';
import type { Condition, KObject } from './meta.ts';
import { FluxCel } from '../cel/flux-expressions.ts';
import { celCompileProblem } from '../cel/cel-expression.ts';
import { celExpression } from './cel-schema.ts';
import { duration, localObjectReference } from './schema-helpers.ts';

export const ReceiverKind = 'Receiver';

/** Every receiver type Flux's notification-controller knows (v1). */
export const FLUX_RECEIVER_TYPES = [
  'generic', 'generic-hmac', 'generic-oidc', 'github', 'gitlab', 'bitbucket', 'harbor', 'dockerhub', 'quay', 'gcr', 'nexus',
  'acr', 'cdevents',
] as const;

/** The receiver types Kedge validates: every type of Flux's Receiver v1. */
export const SUPPORTED_RECEIVER_TYPES = [
  'generic', 'generic-hmac', 'generic-oidc', 'github', 'gitlab', 'bitbucket', 'harbor', 'dockerhub', 'quay', 'gcr', 'nexus', 'acr',
  'cdevents',
] as const;

export type ReceiverType = (typeof SUPPORTED_RECEIVER_TYPES)[number];

/** Flux's default `aud` of the tokens a `generic-oidc` Receiver accepts. */
export const DEFAULT_OIDC_AUDIENCE = 'notification-controller';

/** Flux's `OIDCProvider`: an issuer whose ID tokens may trigger a `generic-oidc` Receiver. */
export const oidcProviderSchema = z.strictObject({
  /** Discovery URL; must equal the token's `iss`. */
  issuerURL: z.string().regex(/^https?:\/\//, 'must start with http:// or https://'),
  /** The token's expected `aud`; default {@link DEFAULT_OIDC_AUDIENCE}. */
  audience: z.string().optional(),
  /** Named CEL expressions over `claims` and the earlier `vars`, exposed as `vars.<name>`. */
  variables: z
    .array(z.strictObject({ name: z.string().min(1, 'name is required'), expression: celExpression(FluxCel.oidcVariable) }))
    .optional(),
  /** CEL booleans over `claims` and `vars`; all must hold. At least one: a valid signature alone authorizes nobody. */
  validations: z
    .array(z.strictObject({ expression: celExpression(FluxCel.oidcValidation), message: z.string().min(1, 'message is required') }))
    .min(1, 'at least one validation is required; without validations any caller able to obtain a token from this issuer can trigger the Receiver'),
});

export type OidcProvider = z.infer<typeof oidcProviderSchema>;

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
        filter: celExpression(FluxCel.oidcResourceFilter).optional(),
      }),
    )
    .min(1, 'needs at least one resource'),
  /** CEL (`res`: the resource's metadata, `req`: the JSON request body): reconcile only the resources it accepts. */
  resourceFilter: celExpression(FluxCel.oidcResourceFilter).optional(),
  /** Required for every type but `generic-oidc`, which must not set it. */
  secretRef: localObjectReference.optional(),
  /** `generic-oidc` only: the issuers whose tokens are accepted, one per `issuerURL`. */
  oidcProviders: z.array(oidcProviderSchema).optional(),
  suspend: z.boolean().optional(),
}).superRefine((spec, ctx) => {
  const oidc = spec.type === 'generic-oidc';
  const issue = (message: string, path: Array<string | number>) => ctx.addIssue({ code: 'custom', message, path });
  if (oidc && !spec.oidcProviders?.length) issue('generic-oidc receivers must define at least one oidcProvider', ['oidcProviders']);
  if (!oidc && spec.oidcProviders?.length) issue('oidcProviders can only be set when type is generic-oidc', ['oidcProviders']);
  if (oidc && spec.secretRef) issue('secretRef cannot be set when type is generic-oidc', ['secretRef']);
  if (!oidc && !spec.secretRef) issue('secretRef is required when type is not generic-oidc', ['secretRef']);
  const issuers = new Set<string>();
  for (const [i, provider] of (spec.oidcProviders ?? []).entries()) {
    if (issuers.has(provider.issuerURL)) issue(`duplicate issuerURL '${provider.issuerURL}'`, ['oidcProviders', i, 'issuerURL']);
    issuers.add(provider.issuerURL);
  }
  // `claims` exists only for generic-oidc receivers, as Flux compiles the filters. An expression that does not
  // compile at all was already reported by its field.
  if (!oidc) {
    const check = (expr: string | undefined, path: Array<string | number>) => {
      if (!expr || celCompileProblem(expr, FluxCel.oidcResourceFilter) !== undefined) return;
      const problem = celCompileProblem(expr, FluxCel.resourceFilter);
      if (problem) issue(problem, path);
    };
    check(spec.resourceFilter, ['resourceFilter']);
    spec.resources.forEach((r, i) => check(r.filter, ['resources', i, 'filter']));
  }
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
