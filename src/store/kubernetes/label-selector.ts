/** One requirement of a Kubernetes label selector. */
type Requirement =
  { key: string; op: 'exists' | 'absent' } | { key: string; op: 'in' | 'notin'; values: string[] };

/** A label selector could not be parsed; names the selector and the part that is wrong. */
export class LabelSelectorError extends Error {
  override name = 'LabelSelectorError';
}

/**
 * A parsed label selector in the API server's syntax (`a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x,y)`,
 * `a`, `!a`, comma-separated, all must hold), e.g. Flux's sharding `sharding.fluxcd.io/key notin (shard1)`.
 * The string itself is what the store sends to the server; `matches` tells locally whether an object's labels
 * are selected, as the server would.
 */
export class LabelSelector {
  readonly #requirements: Requirement[];

  constructor(readonly text: string) {
    this.#requirements = parse(text);
  }

  matches(labels: Record<string, string> | undefined): boolean {
    return this.#requirements.every((r) => {
      const value = labels?.[r.key];
      switch (r.op) {
        case 'exists':
          return value !== undefined;
        case 'absent':
          return value === undefined;
        case 'in':
          return value !== undefined && r.values.includes(value);
        case 'notin':
          return value === undefined || !r.values.includes(value);
      }
    });
  }
}

function parse(text: string): Requirement[] {
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
  parts.push(current);
  return parts
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => requirement(part, text));
}

const setForm = /^(\S+)\s+(in|notin)\s*\(([^()]*)\)$/;
const equalityForm = /^([^\s!=]+)\s*(==|=|!=)\s*(\S*)$/;
const existsForm = /^(!?)\s*([^\s!=()]+)$/;

function requirement(part: string, text: string): Requirement {
  const set = setForm.exec(part);
  if (set) {
    const values = (set[3] ?? '')
      .split(',')
      .map((v) => v.trim())
      .filter((v) => v !== '');
    return { key: set[1]!, op: set[2] as 'in' | 'notin', values };
  }
  const equality = equalityForm.exec(part);
  if (equality)
    return { key: equality[1]!, op: equality[2] === '!=' ? 'notin' : 'in', values: [equality[3] ?? ''] };
  const exists = existsForm.exec(part);
  if (exists) return { key: exists[2]!, op: exists[1] === '!' ? 'absent' : 'exists' };
  throw new LabelSelectorError(`invalid label selector '${text}': cannot parse '${part}'`);
}
