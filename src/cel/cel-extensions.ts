/** Implementations of the cel-go extension functions the CEL library does not ship (see cel-environment.ts). */

/** CEL equality of two evaluated values: numbers across int, uint and double, then structural. */
export function celEquals(a: unknown, b: unknown): boolean {
  if ((typeof a === 'bigint' || typeof a === 'number') && (typeof b === 'bigint' || typeof b === 'number')) {
    return typeof a === typeof b ? a === b : Number(a) === Number(b);
  }
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.from(a).equals(Buffer.from(b));
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => celEquals(x, b[i]));
  if (a instanceof Map && b instanceof Map) {
    return a.size === b.size && [...a.entries()].every(([k, v]) => b.has(k) && celEquals(v, b.get(k)));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && celEquals(a[k], b[k]))
    );
  }
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  return a === b;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

/** `strings.quote`: the string in double quotes with CEL escapes. */
export function quoteString(s: string): string {
  const escapes: Record<string, string> = {
    '\\': '\\\\',
    '"': '\\"',
    '\n': '\\n',
    '\r': '\\r',
    '\t': '\\t',
    '\b': '\\b',
    '\f': '\\f',
    '\v': '\\v',
    '\x07': '\\a',
  };
  return `"${[...s].map((c) => escapes[c] ?? c).join('')}"`;
}

/** A value as CEL's `string()` and `%s` render it. */
export function celString(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (typeof value === 'number')
    return Number.isInteger(value) && Math.abs(value) < 1e21 ? value.toFixed(0) : String(value);
  if (value === null || value === undefined) return 'null';
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  if (value instanceof Date) return value.toISOString().replace('.000Z', 'Z');
  if (Array.isArray(value)) return `[${value.map(celString).join(', ')}]`;
  if (value instanceof Map)
    return `{${[...value.entries()].map(([k, v]) => `${celString(k)}: ${celString(v)}`).join(', ')}}`;
  if (isPlainObject(value))
    return `{${Object.entries(value)
      .map(([k, v]) => `${k}: ${celString(v)}`)
      .join(', ')}}`;
  // The library's own value classes (durations, optionals, types) define toString.
  // eslint-disable-next-line @typescript-eslint/no-base-to-string
  return String(value);
}

function integer(value: unknown, verb: string): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  if (typeof value === 'object' && value !== null && 'value' in value && typeof value.value === 'bigint')
    return value.value; // uint
  throw new Error(`format: %${verb} needs an integer, got ${celString(value)}`);
}

function float(value: unknown, verb: string): number {
  if (typeof value === 'number' || typeof value === 'bigint') return Number(value);
  throw new Error(`format: %${verb} needs a number, got ${celString(value)}`);
}

/**
 * cel-go's `string.format(list)`: `%s`, `%d`, `%f` / `%.Nf`, `%e`, `%b`, `%o`, `%x`, `%X` and `%%`, each
 * taking the next argument.
 */
export function formatString(template: string, args: readonly unknown[]): string {
  let next = 0;
  const take = (verb: string): unknown => {
    if (next >= args.length) throw new Error(`format: not enough arguments for %${verb}`);
    return args[next++];
  };
  const out = template.replace(
    /%(?:\.(\d+))?([sdfeboxX%])/g,
    (_match, precision: string | undefined, verb: string) => {
      if (verb === '%') return '%';
      const value = take(verb);
      switch (verb) {
        case 's':
          return celString(value);
        case 'd':
          return String(integer(value, verb));
        case 'f':
          return float(value, verb).toFixed(precision === undefined ? 6 : Number(precision));
        case 'e':
          return float(value, verb)
            .toExponential(precision === undefined ? 6 : Number(precision))
            .replace(/e([+-])(\d)$/, 'e$10$2');
        case 'b':
          return integer(value, verb).toString(2);
        case 'o':
          return integer(value, verb).toString(8);
        default: {
          const hex =
            typeof value === 'string'
              ? Buffer.from(value).toString('hex')
              : value instanceof Uint8Array
                ? Buffer.from(value).toString('hex')
                : integer(value, verb).toString(16);
          return verb === 'X' ? hex.toUpperCase() : hex;
        }
      }
    },
  );
  return out;
}
