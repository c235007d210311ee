/**
 * A JSON-shaped value as CEL sees it in Flux: objects decoded by Kubernetes carry integers as int64 and the
 * rest as float64, so `status.replicas + 1` is int arithmetic. JavaScript numbers that are integers become
 * BigInt (CEL `int`), others stay `double`; `undefined` fields are dropped. Returns a copy.
 */
export function celInput(value: unknown): unknown {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map(celInput);
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(value)) if (field !== undefined) out[key] = celInput(field);
    return out;
  }
  return value;
}
