/**
 * JSON text of `value` with object keys sorted at every depth, so that two values that differ only in key
 * order give the same text. Follows `JSON.stringify` for everything else (undefined members are dropped).
 */
export function canonicalJson(value: unknown): string {
  return (
    JSON.stringify(value, (_key, member: unknown) => {
      if (member === null || typeof member !== 'object' || Array.isArray(member)) return member;
      const sorted: Record<string, unknown> = {};
      for (const key of Object.keys(member).sort()) sorted[key] = (member as Record<string, unknown>)[key];
      return sorted;
    }) ?? 'null'
  );
}

/** True when `a` and `b` serialise to the same JSON, regardless of key order. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}
