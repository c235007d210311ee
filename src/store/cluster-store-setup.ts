import type { KubeConfig } from '@kubernetes/client-node';
import { KubeApiError } from '../apply/errors.ts';
import { KubeRest } from '../apply/kube-rest.ts';
import type { Logger } from '../runtime/logger.ts';
import { ensureCustomResourceDefinitions } from './kubernetes/ensure-crds.ts';
import { kindPaths, storedKinds } from './kubernetes/kind-paths.ts';

/** How long a new CRD's storage may take to answer lists after it is Established. */
const servedTimeoutMs = 60_000;

/**
 * Operator mode, before the store opens: creates Kedge's CRDs where they are missing (a cluster that ran Flux
 * keeps Flux's own, as they are), then waits until every kind answers a list in `namespace` (all when
 * undefined) — an Established CRD's storage may still answer 503 "storage is (re)initializing" for a moment.
 */
export async function prepareClusterStore(
  kubeConfig: KubeConfig,
  namespace: string | undefined,
  log: Logger,
): Promise<void> {
  const rest = new KubeRest(kubeConfig);
  try {
    const result = await ensureCustomResourceDefinitions(rest);
    if (result.created.length > 0)
      log.info({ created: result.created }, `created ${result.created.length} CRD(s)`);
    if (result.existing.length > 0)
      log.info({ existing: result.existing }, `using ${result.existing.length} existing CRD(s) as they are`);
    await Promise.all(storedKinds().map((kind) => waitListable(rest, kindPaths(kind).collection(namespace))));
  } finally {
    rest.close();
  }
}

async function waitListable(rest: KubeRest, collection: string): Promise<void> {
  const deadline = Date.now() + servedTimeoutMs;
  for (let delay = 100; ; delay = Math.min(delay * 2, 2_000)) {
    try {
      await rest.request('GET', `${collection}?limit=1`);
      return;
    } catch (error) {
      const transient = error instanceof KubeApiError && (error.code === 503 || error.code === 429);
      if (!transient || Date.now() + delay > deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
