import type { KubeObject } from './object-id.ts';

/**
 * The dotted paths of `desired` (an applied manifest) whose value `live` does not have: a subset comparison,
 * so fields the server defaults or other managers add never count, whoever owns the field now. Labels and
 * annotations are compared, the rest of metadata and `status` are not. A Secret's `stringData` is compared as
 * the `data` it becomes.
 */
export function manifestDrift(desired: KubeObject, live: KubeObject): string[] {
  const wanted = structuredClone(desired) as Record<string, unknown>;
  if (desired.kind === 'Secret' && wanted.stringData) {
    const data = { ...((wanted.data ?? {}) as Record<string, string>) };
    for (const [k, v] of Object.entries(wanted.stringData as Record<string, string>)) data[k] = Buffer.from(v).toString('base64');
    wanted.data = data;
    delete wanted.stringData;
  }
  const { metadata, status: _status, ...body } = wanted as { metadata: Record<string, unknown>; status?: unknown };
  const out: string[] = [];
  compare({ labels: metadata.labels, annotations: metadata.annotations }, live.metadata, 'metadata', out);
  compare(body, live, '', out);
  return out;
}

function compare(want: unknown, have: unknown, path: string, out: string[]): void {
  if (want === undefined) return;
  if (want !== null && typeof want === 'object' && !Array.isArray(want)) {
    if (have === null || typeof have !== 'object' || Array.isArray(have)) {
      out.push(path);
      return;
    }
    for (const [k, v] of Object.entries(want)) compare(v, (have as Record<string, unknown>)[k], path ? `${path}.${k}` : k, out);
    return;
  }
  if (Array.isArray(want)) {
    if (!Array.isArray(have) || have.length !== want.length) out.push(path);
    else want.forEach((v, i) => compare(v, have[i], `${path}[${i}]`, out));
    return;
  }
  // Numbers the server renders as strings (and back) are the same value.
  if (want !== have && scalarText(want) !== scalarText(have)) out.push(path);
}

function scalarText(value: unknown): string {
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
}
