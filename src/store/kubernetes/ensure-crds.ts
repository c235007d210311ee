import { customResourceDefinitions } from '../../api/crds.ts';
import type { KObject } from '../../api/meta.ts';
import { KubeApiError } from '../../apply/errors.ts';
import type { KubeRest } from '../../apply/kube-rest.ts';

const crdPath = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';

export interface EnsureCrdsOptions {
  /** Default: Kedge's own, {@link customResourceDefinitions}. */
  crds?: KObject[];
  /** How long to wait for each CRD to be Established. Default 60 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface EnsureCrdsResult {
  /** CRDs this call created. */
  created: string[];
  /** CRDs that were there already (Kedge's, or Flux's on a cluster that ran Flux): used as they are, not replaced. */
  existing: string[];
}

interface CrdStatus {
  conditions?: { type: string; status: string; reason?: string; message?: string }[];
}

/** A CRD could not be created or did not become Established; names the CRD and the API server's reason. */
export class CrdInstallError extends Error {
  override name = 'CrdInstallError';
}

/**
 * Creates each CRD that does not exist and waits until every one is Established (its names accepted, its
 * resource served). A CRD of that name that exists already — Flux's, on a cluster moving from Flux — is used
 * as it is: never replaced or patched. Creating concurrently with another process is fine (its CRD counts as
 * existing).
 */
export async function ensureCustomResourceDefinitions(
  rest: KubeRest,
  options: EnsureCrdsOptions = {},
): Promise<EnsureCrdsResult> {
  const result: EnsureCrdsResult = { created: [], existing: [] };
  const crds = options.crds ?? customResourceDefinitions();
  // Created outright, all at once (one request each): a 409 says it exists — Kedge's, or Flux's — and it is kept.
  // Without the right to create CRDs, one that exists is fine too.
  const found = await Promise.all(
    crds.map(async (crd) => {
      const name = crd.metadata.name;
      try {
        await rest.request('POST', crdPath, { body: crd, signal: options.signal });
        return 'created';
      } catch (error) {
        const code = error instanceof KubeApiError ? error.code : undefined;
        if (code === 409 || (code === 403 && (await exists(rest, name, options.signal)))) return 'existing';
        throw new CrdInstallError(`cannot create CRD ${name}: ${(error as Error).message}`, {
          cause: error,
        });
      }
    }),
  );
  crds.forEach((crd, i) => result[found[i]!].push(crd.metadata.name));
  await Promise.all(crds.map((crd) => waitEstablished(rest, crd.metadata.name, options)));
  return result;
}

async function exists(rest: KubeRest, name: string, signal?: AbortSignal): Promise<boolean> {
  return rest.request('GET', `${crdPath}/${name}`, { signal }).then(
    () => true,
    (error: unknown) => {
      if (error instanceof KubeApiError && error.code === 404) return false;
      throw error;
    },
  );
}

async function waitEstablished(rest: KubeRest, name: string, options: EnsureCrdsOptions): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  let last = 'no conditions yet';
  for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
    const crd = await rest.request<{ status?: CrdStatus }>('GET', `${crdPath}/${name}`, {
      signal: options.signal,
    });
    const conditions = crd.status?.conditions ?? [];
    const established = conditions.find((c) => c.type === 'Established');
    const names = conditions.find((c) => c.type === 'NamesAccepted');
    if (established?.status === 'True') return;
    if (names?.status === 'False')
      throw new CrdInstallError(
        `CRD ${name} is not served: ${names.reason ?? ''} ${names.message ?? ''}`.trim(),
      );
    last = established ? `${established.reason ?? ''} ${established.message ?? ''}`.trim() : last;
    if (Date.now() + delay > deadline)
      throw new CrdInstallError(
        `CRD ${name} did not become Established within ${options.timeoutMs ?? 60_000} ms (${last})`,
      );
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
