import { gunzipSync, gzipSync } from 'node:zlib';
import type { KubeRest } from '../apply/kube-rest.ts';
import type { ReleaseRecord } from './release-record.ts';

interface ReleaseSecret {
  metadata: { name: string; labels?: Record<string, string> };
  data?: Record<string, string>;
}

/**
 * Marks a release left `pending-*` by an interrupted action as `failed` in Helm's storage (its Secret's
 * release document and `status` label), as helm-controller's unlock does, so the next action may run.
 */
export async function markReleaseFailed(
  rest: KubeRest,
  record: ReleaseRecord,
  description: string,
): Promise<void> {
  const path = `/api/v1/namespaces/${record.namespace}/secrets/sh.helm.release.v1.${record.name}.v${record.version}`;
  const secret = await rest.request<ReleaseSecret>('GET', path);
  const inner = Buffer.from(secret.data?.['release'] ?? '', 'base64').toString('utf8');
  const document = JSON.parse(gunzipSync(Buffer.from(inner, 'base64')).toString('utf8')) as {
    info?: { status?: string; description?: string };
  };
  document.info = { ...document.info, status: 'failed', description };
  const encoded = gzipSync(Buffer.from(JSON.stringify(document))).toString('base64');
  secret.data = { ...secret.data, release: Buffer.from(encoded).toString('base64') };
  secret.metadata.labels = { ...secret.metadata.labels, status: 'failed' };
  await rest.request('PUT', path, { body: secret });
}
