import type { ParseResult } from '@marcbachmann/cel-js';
import { celEnvironment } from './cel-environment.ts';
import { celInput } from './cel-input.ts';

/** How an expression is compiled, after fluxcd/pkg `runtime/cel`'s options. */
export interface CelOptions {
  /**
   * The variables it may use, each a map (Flux's `WithStructVariables`); the expression is then type-checked
   * (Flux's `WithCompile`). Undefined: any name is a variable and it is only parsed (health checks, whose
   * variables are the object's top-level fields).
   */
  variables?: readonly string[];
  /** The type it must return (checked when `variables` is set); `dyn` results are checked at evaluation. */
  output?: 'bool' | 'string';
}

interface SourceError {
  summary?: string;
  message: string;
  range?: { start: number; end: number };
}

/** `line L, column C` (1-based) of an offset in `source`. */
function position(source: string, offset: number): string {
  const before = source.slice(0, offset).split('\n');
  return `line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1}`;
}

/** The library's error as one line: its summary and where in the expression. */
function describe(source: string, error: SourceError): string {
  const summary = (error.summary ?? error.message.split('\n')[0] ?? '').replace(/\.$/, '');
  return error.range ? `${summary} at ${position(source, error.range.start)}` : summary;
}

/** An expression that does not compile: the message quotes it and says where it fails. */
export class CelCompileError extends Error {
  constructor(
    readonly expression: string,
    readonly reason: string,
  ) {
    super(`invalid CEL expression '${expression}': ${reason}`);
    this.name = 'CelCompileError';
  }
}

/** An expression failed at evaluation (a missing field, a wrong type, a non-boolean result). */
export class CelEvaluationError extends Error {
  constructor(
    readonly expression: string,
    readonly reason: string,
  ) {
    super(`failed to evaluate the CEL expression '${expression}': ${reason}`);
    this.name = 'CelEvaluationError';
  }
}

/** A compiled CEL expression; compile with {@link compileCel}, which caches by text and options. */
export class CelExpression {
  private constructor(
    readonly source: string,
    private readonly program: ParseResult,
  ) {}

  /** Parses (and, with variables, type-checks) `source`. Throws {@link CelCompileError}. */
  static compile(source: string, options: CelOptions = {}): CelExpression {
    const env = celEnvironment(options.variables);
    let program: ParseResult;
    try {
      program = env.parse(source);
    } catch (error) {
      throw new CelCompileError(source, describe(source, error as SourceError));
    }
    if (options.variables !== undefined) {
      const checked = program.check();
      if (!checked.valid)
        throw new CelCompileError(
          source,
          describe(source, checked.error ?? { message: 'type check failed' }),
        );
      if (options.output && checked.type !== options.output && checked.type !== 'dyn') {
        throw new CelCompileError(
          source,
          `it must return ${options.output}, not ${checked.type ?? 'unknown'}`,
        );
      }
    }
    return new CelExpression(source, program);
  }

  /** The value for `variables` (JSON-shaped: integers become CEL ints). Throws {@link CelEvaluationError}. */
  evaluate(variables: Record<string, unknown>): unknown {
    const input: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(variables)) input[name] = celInput(value);
    try {
      return this.program(input) as unknown;
    } catch (error) {
      throw new CelEvaluationError(this.source, describe(this.source, error as SourceError));
    }
  }

  evaluateBoolean(variables: Record<string, unknown>): boolean {
    const value = this.evaluate(variables);
    if (typeof value !== 'boolean')
      throw new CelEvaluationError(this.source, `it returned ${kindOf(value)}, not a boolean`);
    return value;
  }

  evaluateString(variables: Record<string, unknown>): string {
    const value = this.evaluate(variables);
    if (typeof value !== 'string')
      throw new CelEvaluationError(this.source, `it returned ${kindOf(value)}, not a string`);
    return value;
  }
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'bigint') return 'an int';
  if (typeof value === 'number') return 'a double';
  return typeof value === 'object' ? 'a map' : `a ${typeof value}`;
}

const MAX_CACHED = 2_000;
const cache = new Map<string, CelExpression>();

/**
 * The compiled expression for `source` and `options`, compiled once and kept (a bounded cache: expressions
 * come from specs, so the set in use is small). Throws {@link CelCompileError}.
 */
export function compileCel(source: string, options: CelOptions = {}): CelExpression {
  const key = `${options.variables?.join(',') ?? '*'}|${options.output ?? ''}|${source}`;
  let expression = cache.get(key);
  if (!expression) {
    expression = CelExpression.compile(source, options);
    if (cache.size >= MAX_CACHED) cache.clear();
    cache.set(key, expression);
  }
  return expression;
}

/** Why `source` does not compile with `options`, or undefined when it does (for schema validation). */
export function celCompileProblem(source: string, options: CelOptions = {}): string | undefined {
  try {
    compileCel(source, options);
    return undefined;
  } catch (error) {
    if (error instanceof CelCompileError) return error.message;
    throw error;
  }
}
