import type { CelOptions } from './cel-expression.ts';

/**
 * How Flux compiles each of its CEL fields: the variables it declares and the type it must return. Kedge's
 * schemas (refused at `kedge apply`) and its evaluators use the same options, so an expression that passed
 * validation compiles from the cache at evaluation.
 */
export const FluxCel = {
  /** `Kustomization.spec.healthCheckExprs[]`: parsed only; the variables are the object's top-level fields. */
  healthCheck: {},
  /** `Kustomization.spec.dependsOn[].readyExpr`: `self` (the Kustomization) and `dep` (the dependency). */
  readyExpr: { variables: ['self', 'dep'], output: 'bool' },
  /** `Receiver.spec.resourceFilter` and `resources[].filter`: `res` (the resource's metadata), `req` (the JSON body). */
  resourceFilter: { variables: ['res', 'req'], output: 'bool' },
  /** The same on a `generic-oidc` Receiver: also `claims`, the verified token's claims. */
  oidcResourceFilter: { variables: ['res', 'req', 'claims'], output: 'bool' },
  /** `Receiver.spec.oidcProviders[].variables[].expression`: `claims` and the variables before it (`vars`). */
  oidcVariable: { variables: ['claims', 'vars'] },
  /** `Receiver.spec.oidcProviders[].validations[].expression`: `claims` and `vars`; must return a bool. */
  oidcValidation: { variables: ['claims', 'vars'], output: 'bool' },
  /** `Provider.spec.commitStatusExpr`: `event`, `alert` and `provider`; the commit status key. */
  commitStatus: { variables: ['event', 'alert', 'provider'], output: 'string' },
} as const satisfies Record<string, CelOptions>;
