import { groupOfApiVersion, type HealthCheckExpr } from '../api/kustomization.ts';
import { compileCel, type CelExpression } from '../cel/cel-expression.ts';
import { FluxCel } from '../cel/flux-expressions.ts';
import { computeStatus, type ObjectStatus } from './kstatus.ts';

/** An object's health: kstatus' rules, or a Kustomization's `healthCheckExprs` for the kinds they name. */
export type StatusRule = (object: object | undefined) => ObjectStatus;

interface Evaluator {
  current: CelExpression;
  inProgress?: CelExpression;
  failed?: CelExpression;
}

type Obj = Record<string, unknown> & {
  apiVersion?: string;
  kind?: string;
  metadata?: { generation?: unknown };
  status?: { observedGeneration?: unknown };
};

/**
 * The status rule of a Kustomization with `healthCheckExprs` (fluxcd/pkg `runtime/cel`, RFC 0009): objects of a
 * listed group and kind (an entry without `kind` covers its whole group; one with the kind wins) are judged by
 * the expressions, evaluated with the object's top-level fields as variables (`status`, `metadata`, `spec`…):
 * InProgress while an integer `status.observedGeneration` differs from `metadata.generation`; then `inProgress`,
 * `failed`, `current` in that order, the first true one deciding; InProgress when none is. An evaluation error
 * (e.g. a field the object does not have yet) is Unknown with the error, so a wait goes on until the timeout,
 * as in Flux. Every other object keeps kstatus' rules. Expressions compile once (the schema already refused
 * those that do not).
 */
export function statusRuleFor(exprs: readonly HealthCheckExpr[] | undefined): StatusRule {
  if (!exprs?.length) return computeStatus;
  const evaluators = new Map<string, Evaluator>();
  for (const e of exprs) {
    evaluators.set(`${groupOfApiVersion(e.apiVersion)}/${e.kind ?? ''}`, {
      current: compileCel(e.current, FluxCel.healthCheck),
      inProgress: e.inProgress ? compileCel(e.inProgress, FluxCel.healthCheck) : undefined,
      failed: e.failed ? compileCel(e.failed, FluxCel.healthCheck) : undefined,
    });
  }
  return (object) => {
    const obj = object as Obj | undefined;
    if (!obj) return computeStatus(undefined);
    const group = groupOfApiVersion(obj.apiVersion ?? '');
    const evaluator = evaluators.get(`${group}/${obj.kind ?? ''}`) ?? evaluators.get(`${group}/`);
    return evaluator ? evaluate(evaluator, obj) : computeStatus(obj);
  };
}

function evaluate(evaluator: Evaluator, obj: Obj): ObjectStatus {
  const observed = obj.status?.observedGeneration;
  const generation = obj.metadata?.generation;
  if (Number.isInteger(observed) && Number.isInteger(generation) && observed !== generation) {
    return {
      status: 'InProgress',
      message: `generation ${String(generation)} not yet observed (observed ${String(observed)})`,
    };
  }
  const steps = [
    ['inProgress', evaluator.inProgress, 'InProgress'],
    ['failed', evaluator.failed, 'Failed'],
    ['current', evaluator.current, 'Current'],
  ] as const;
  try {
    for (const [name, expression, status] of steps) {
      if (expression?.evaluateBoolean(obj))
        return { status, message: `healthCheckExprs: ${name} expression is true: ${expression.source}` };
    }
  } catch (error) {
    return { status: 'Unknown', message: `healthCheckExprs: ${(error as Error).message}` };
  }
  return { status: 'InProgress', message: 'healthCheckExprs: no expression is true yet' };
}
