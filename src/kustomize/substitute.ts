import { parse } from 'yaml';
import type { KObject } from '../api/meta.ts';
import { envsubst, EnvsubstError } from './envsubst.ts';

/** Label or annotation that opts one object out of post-build substitution. */
export const SubstituteKey = 'kustomize.toolkit.fluxcd.io/substitute';
/** Variable names must match this, exactly as Flux checks them before substituting. */
export const VariableNamePattern = /^[_a-zA-Z][_a-zA-Z0-9]*$/;
const VariableNameRule = '^[_[:alpha:]][_[:alpha:][:digit:]]*$';

/**
 * The inputs of `spec.postBuild`, already read by the caller. `substituteFrom` holds the data of each
 * referenced ConfigMap/Secret in list order (absent optional ones simply left out).
 */
export interface Substitutions {
  substituteFrom?: Record<string, string>[];
  substitute?: Record<string, string>;
  /** Fail on a variable with neither value nor default (Flux's `StrictPostBuildSubstitutions`). Default false. */
  strict?: boolean;
}

/** A substitution problem: bad variable name, malformed `${…}`, strict miss or YAML that no longer parses. */
export class SubstitutionError extends Error {
  override name = 'SubstitutionError';
  readonly reason = 'BuildFailed';
}

/**
 * Merges the variables with Flux's precedence: `substituteFrom` entries in order, later ones overriding
 * earlier ones, then inline `substitute` over all. Newlines are stripped from values, as Flux does.
 */
export function mergeVariables(subs: Substitutions): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const source of [...(subs.substituteFrom ?? []), subs.substitute ?? {}]) {
    for (const [key, value] of Object.entries(source)) vars[key] = value.replaceAll('\n', '');
  }
  return vars;
}

/** Throws one error listing every variable name Flux would reject. */
export function validateVariableNames(vars: Record<string, string>): void {
  const bad = Object.keys(vars).filter((name) => !VariableNamePattern.test(name));
  if (bad.length > 0) {
    const names = bad.map((n) => `'${n}'`).join(', ');
    const noun = bad.length === 1 ? 'var name is' : 'var names are';
    throw new SubstitutionError(`${names} ${noun} invalid, must match '${VariableNameRule}'`);
  }
}

/** True when the object is labelled or annotated `kustomize.toolkit.fluxcd.io/substitute: disabled`. */
export function isSubstitutionDisabled(obj: KObject): boolean {
  const meta = obj.metadata as { labels?: Record<string, unknown>; annotations?: Record<string, unknown> } | undefined;
  return meta?.labels?.[SubstituteKey] === 'disabled' || meta?.annotations?.[SubstituteKey] === 'disabled';
}

/**
 * Substitutes variables in the YAML text of one rendered object and re-parses it, as Flux does on each
 * resource after `kustomize build`. Objects that opt out are parsed unchanged; with no variables at all
 * nothing is substituted (Flux's documented behaviour, defaults included). `where` names the object in errors.
 */
export function substituteDocument(text: string, vars: Record<string, string>, opts: { strict?: boolean; where: string }): KObject {
  const original = parse(text) as KObject;
  if (Object.keys(vars).length === 0 || isSubstitutionDisabled(original)) return original;
  let output: string;
  try {
    output = envsubst(text, (name) => (Object.hasOwn(vars, name) ? vars[name] : undefined), { strict: opts.strict });
  } catch (error) {
    const detail = error instanceof EnvsubstError ? error.message : String(error);
    throw new SubstitutionError(`post build failed for '${opts.where}': ${detail}`, { cause: error });
  }
  try {
    return parse(output) as KObject;
  } catch (error) {
    const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new SubstitutionError(`post build failed for '${opts.where}': substituted YAML does not parse: ${detail}`, {
      cause: error,
    });
  }
}
