import { createHash } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { secretValues } from '../api/core.ts';
import type { HelmReleaseSpec } from '../api/helmrelease.ts';
import { canonicalJson } from '../store/canonical-json.ts';
import type { Store } from '../store/store.ts';

export type Values = Record<string, unknown>;

/** A `valuesFrom` reference could not be read or parsed; the message names it. */
export class ValuesError extends Error {
  override name = 'ValuesError';
  readonly reason = 'InitFailed';
}

/**
 * The values of a release as Flux composes them: each `valuesFrom` ConfigMap/Secret in order (its `valuesKey`,
 * default `values.yaml`, parsed as YAML and deep-merged; with `targetPath`, the raw value set at that path as
 * `helm --set` would), then the inline `values` merged on top. Missing optional references are skipped.
 */
export async function composeValues(store: Store, namespace: string, spec: HelmReleaseSpec): Promise<Values> {
  let result: Values = {};
  for (const ref of spec.valuesFrom ?? []) {
    const where = `${ref.kind}/${namespace}/${ref.name}`;
    const object = await store.get({ kind: ref.kind, namespace, name: ref.name });
    const key = ref.valuesKey ?? 'values.yaml';
    if (!object) {
      if (ref.optional) continue;
      throw new ValuesError(`could not find ${where} referenced in valuesFrom`);
    }
    const data =
      ref.kind === 'Secret' ? secretValues(object) : ((object.data ?? {}) as Record<string, string>);
    const text = data[key];
    if (text === undefined) {
      if (ref.optional) continue;
      throw new ValuesError(`missing key '${key}' in ${where} referenced in valuesFrom`);
    }
    if (ref.targetPath) {
      try {
        setPath(result, ref.targetPath, typedScalar(text));
      } catch (error) {
        throw new ValuesError(
          `unable to set targetPath '${ref.targetPath}' from ${where}: ${(error as Error).message}`,
        );
      }
      continue;
    }
    let parsed: unknown;
    try {
      parsed = parseYaml(text);
    } catch (error) {
      // The reference is named, never its content (it may be a Secret).
      throw new ValuesError(
        `unable to parse key '${key}' of ${where} as YAML: ${(error as Error).message.split('\n')[0]}`,
      );
    }
    if (parsed === null || parsed === undefined) continue;
    if (typeof parsed !== 'object' || Array.isArray(parsed))
      throw new ValuesError(`key '${key}' of ${where} is not a YAML map of values`);
    result = mergeValues(result, parsed as Values);
  }
  return mergeValues(result, spec.values ?? {});
}

/** Helm's `MergeMaps`: maps merge recursively, anything else in `b` replaces what `a` has. */
export function mergeValues(a: Values, b: Values): Values {
  const out: Values = { ...a };
  for (const [key, value] of Object.entries(b)) {
    const current = out[key];
    out[key] = isMap(value) && isMap(current) ? mergeValues(current, value) : value;
  }
  return out;
}

function isMap(v: unknown): v is Values {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `sha256:<hex>` of the values' canonical JSON: equal values (whatever the key order) give equal digests. */
export function configDigest(values: Values): string {
  return `sha256:${createHash('sha256').update(canonicalJson(values)).digest('hex')}`;
}

/** How `helm --set` types a scalar: true/false, null, integers; anything else stays a string. */
function typedScalar(text: string): unknown {
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (text === 'null') return null;
  if (/^-?(0|[1-9][0-9]{0,15})$/.test(text)) return Number(text);
  return text;
}

/** Sets `value` at a `--set` style path: `a.b.c`, `list[0].name`, `\.` for a literal dot. */
export function setPath(root: Values, path: string, value: unknown): void {
  const segments: (string | number)[] = [];
  let current = '';
  for (let i = 0; i < path.length; i++) {
    const ch = path[i]!;
    if (ch === '\\' && i + 1 < path.length) current += path[++i];
    else if (ch === '.') {
      if (current) segments.push(current);
      current = '';
    } else if (ch === '[') {
      const end = path.indexOf(']', i);
      const index = Number(path.slice(i + 1, end));
      if (end < 0 || !Number.isInteger(index) || index < 0)
        throw new Error(`invalid list index in '${path}'`);
      if (current) segments.push(current);
      current = '';
      segments.push(index);
      i = end;
    } else current += ch;
  }
  if (current) segments.push(current);
  if (segments.length === 0) throw new Error('empty path');
  let node: Record<string | number, unknown> = root;
  segments.forEach((segment, index) => {
    const last = index === segments.length - 1;
    if (last) {
      node[segment] = value;
      return;
    }
    const nextIsIndex = typeof segments[index + 1] === 'number';
    const existing = node[segment];
    if (nextIsIndex ? !Array.isArray(existing) : !isMap(existing)) node[segment] = nextIsIndex ? [] : {};
    node = node[segment] as Record<string | number, unknown>;
  });
}
