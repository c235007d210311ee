const volatileMetadata = ['managedFields', 'resourceVersion', 'generation', 'creationTimestamp', 'uid', 'selfLink', 'deletionTimestamp', 'deletionGracePeriodSeconds'];

/** Deep equality of JSON values (key order ignored). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** A copy without what the server changes on every write: status, managedFields, resourceVersion, generation, uid, timestamps. */
export function withoutVolatileFields(obj: Record<string, unknown>): Record<string, unknown> {
  const { status: _status, ...rest } = obj;
  const metadata = { ...((rest.metadata ?? {}) as Record<string, unknown>) };
  for (const key of volatileMetadata) delete metadata[key];
  return { ...rest, metadata };
}

/**
 * True when the result of a server-side dry-run apply differs from the live object in anything but volatile
 * fields, i.e. applying would change the object. A missing live object has always drifted.
 */
export function hasDrifted(live: Record<string, unknown> | undefined, dryRun: Record<string, unknown>): boolean {
  if (!live) return true;
  return !jsonEqual(withoutVolatileFields(live), withoutVolatileFields(dryRun));
}
