import { z } from 'zod';
import { celCompileProblem, type CelOptions } from '../cel/cel-expression.ts';

/**
 * A CEL expression field: refused when it does not compile as Flux would compile it, with the expression
 * and the line and column where it fails.
 */
export function celExpression(options: CelOptions) {
  return z
    .string()
    .min(1, 'must be a CEL expression')
    .superRefine((text, ctx) => {
      const problem = celCompileProblem(text, options);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });
}
