/** One requirement of a label selector, as Kubernetes parses them. */
export interface LabelRequirement {
  key: string;
  operator: 'exists' | 'notexists' | 'in' | 'notin';
  values: string[];
}

/** A selector that is not Kubernetes label selector syntax; the message quotes the part that is wrong. */
export class LabelSelectorError extends Error {
  override name = 'LabelSelectorError';
}

const keyPattern =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const valuePattern = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/**
 * Parses a Kubernetes label selector — `key`, `!key`, `key=v`, `key==v`, `key!=v`, `key in (a,b)`,
 * `key notin (a,b)`, comma-separated — as `kubectl -l` and Flux's `--watch-label-selector` take it (e.g.
 * `sharding.fluxcd.io/key in (shard1)`). An empty selector matches everything.
 */
export function parseLabelSelector(text: string): LabelRequirement[] {
  const requirements: LabelRequirement[] = [];
  for (const part of splitRequirements(text)) {
    const requirement = parseRequirement(part.trim());
    if (!keyPattern.test(requirement.key))
      throw new LabelSelectorError(`invalid label key '${requirement.key}' in selector '${text}'`);
    const bad = requirement.values.find((v) => !valuePattern.test(v));
    if (bad !== undefined) throw new LabelSelectorError(`invalid label value '${bad}' in selector '${text}'`);
    requirements.push(requirement);
  }
  return requirements;
}

/** Whether `labels` satisfy every requirement (Kubernetes semantics: `!=` and `notin` match a missing label). */
export function matchesLabelSelector(
  requirements: readonly LabelRequirement[],
  labels: Record<string, string> | undefined,
): boolean {
  return requirements.every(({ key, operator, values }) => {
    const value = labels?.[key];
    switch (operator) {
      case 'exists':
        return value !== undefined;
      case 'notexists':
        return value === undefined;
      case 'in':
        return value !== undefined && values.includes(value);
      case 'notin':
        return value === undefined || !values.includes(value);
    }
  });
}

/** Splits at commas outside parentheses; an empty text has no requirement. */
function splitRequirements(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of text) {
    if (char === '(') depth++;
    if (char === ')') depth--;
    if (char === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += char;
  }
  if (depth !== 0) throw new LabelSelectorError(`unbalanced parentheses in selector '${text}'`);
  parts.push(current);
  if (parts.length === 1 && parts[0]!.trim() === '') return [];
  return parts;
}

function parseRequirement(part: string): LabelRequirement {
  const set = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(part);
  if (set) {
    const values = set[3]!.split(',').map((v) => v.trim());
    return { key: set[1]!, operator: set[2] as 'in' | 'notin', values };
  }
  const equality = /^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(part);
  if (equality)
    return { key: equality[1]!, operator: equality[2] === '!=' ? 'notin' : 'in', values: [equality[3]!] };
  if (part.startsWith('!')) return { key: part.slice(1).trim(), operator: 'notexists', values: [] };
  if (/^\S+$/.test(part)) return { key: part, operator: 'exists', values: [] };
  throw new LabelSelectorError(`cannot parse '${part}' as a label selector requirement`);
}
