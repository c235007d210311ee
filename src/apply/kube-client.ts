import { KubeConfig } from '@kubernetes/client-node';
import { ApiDiscovery, resourcePath } from './api-discovery.ts';
import { KubeRest } from './kube-rest.ts';
import { OwnerNameLabel } from './owner-labels.ts';
import { SharedInformer } from './shared-informer.ts';

/** A kubeconfig could not be loaded or used. Never carries the kubeconfig's content. */
export class KubeConfigError extends Error {
  override name = 'KubeConfigError';
}

/**
 * One Kubernetes cluster as the apply library talks to it: the KubeConfig (for watches), a raw JSON REST
 * client, a discovery cache and the shared informers of applied objects. `close()` releases pooled
 * connections and stops the informers.
 */
export class KubeTarget {
  readonly rest: KubeRest;
  readonly discovery: ApiDiscovery;
  readonly #informers = new Map<string, SharedInformer>();

  constructor(readonly kubeConfig: KubeConfig) {
    this.rest = new KubeRest(kubeConfig);
    this.discovery = new ApiDiscovery(this.rest);
  }

  /** A target for the same cluster acting as a service account (`spec.serviceAccountName`). */
  impersonating(serviceAccount: { namespace: string; name: string }): KubeTarget {
    return new KubeTarget(impersonateServiceAccount(this.kubeConfig, serviceAccount));
  }

  /**
   * The shared informer of every object of a kind carrying Flux's owner label (any owner): cluster-wide, or in
   * `namespace` only (for an identity that may not list the kind cluster-wide). Started on first use; lives
   * until `close()`. Resolves once it holds its first list.
   */
  async informerFor(apiVersion: string, kind: string, namespace?: string): Promise<SharedInformer> {
    const resource = await this.discovery.resourceFor(apiVersion, kind);
    const scope = resource.namespaced ? namespace : undefined;
    const key = `${apiVersion}|${kind}|${scope ?? '*'}`;
    let informer = this.#informers.get(key);
    if (!informer) {
      informer = new SharedInformer({
        kubeConfig: this.kubeConfig,
        rest: this.rest,
        apiVersion,
        kind,
        path: resourcePath(resource, scope),
        labelSelector: OwnerNameLabel,
      });
      this.#informers.set(key, informer);
    }
    try {
      await informer.start();
    } catch (error) {
      if (this.#informers.get(key) === informer) this.#informers.delete(key);
      throw error;
    }
    return informer;
  }

  close(): void {
    for (const informer of this.#informers.values()) informer.stop();
    this.#informers.clear();
    this.rest.close();
  }
}

/** Loads a kubeconfig file; the error names the file, never its content. */
export function kubeConfigFromFile(path: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(path);
  } catch (error) {
    throw new KubeConfigError(
      `cannot load kubeconfig file ${path}: ${(error as Error).message.split('\n')[0]}`,
    );
  }
  return checked(kc, `kubeconfig file ${path}`);
}

/** Parses a kubeconfig given as YAML text; `source` names where it came from in errors. */
export function kubeConfigFromString(text: string, source = 'kubeconfig'): KubeConfig {
  const kc = new KubeConfig();
  try {
    kc.loadFromString(text);
  } catch {
    throw new KubeConfigError(`${source} is not a valid kubeconfig`);
  }
  return checked(kc, source);
}

/**
 * The kubeconfig in a Secret, as Flux's `spec.kubeConfig.secretRef` reads it: key `value`, else `value.yaml`,
 * or `key` when given. Accepts a Secret with base64 `data` or plain `stringData`.
 */
export function kubeConfigFromSecret(
  secret: {
    metadata: { name: string; namespace?: string };
    data?: Record<string, string>;
    stringData?: Record<string, string>;
  },
  key?: string,
): KubeConfig {
  const where = `Secret/${secret.metadata.namespace ?? 'default'}/${secret.metadata.name}`;
  const keys = key ? [key] : ['value', 'value.yaml'];
  for (const k of keys) {
    const plain = secret.stringData?.[k];
    const encoded = secret.data?.[k];
    const text =
      plain ?? (encoded === undefined ? undefined : Buffer.from(encoded, 'base64').toString('utf8'));
    if (text !== undefined) return kubeConfigFromString(text, `kubeconfig in ${where} key '${k}'`);
  }
  throw new KubeConfigError(
    `${where} has no kubeconfig: expected key ${keys.map((k) => `'${k}'`).join(' or ')}`,
  );
}

/**
 * A copy of `kc` whose current user impersonates `system:serviceaccount:<namespace>:<name>` (the
 * `Impersonate-User` header), as Flux does for `spec.serviceAccountName`.
 */
export function impersonateServiceAccount(
  kc: KubeConfig,
  sa: { namespace: string; name: string },
): KubeConfig {
  const user = kc.getCurrentUser();
  const context = kc.getContextObject(kc.currentContext);
  if (!user || !context) throw new KubeConfigError('kubeconfig has no current user to impersonate from');
  const copy = new KubeConfig();
  copy.loadFromOptions({
    clusters: kc.clusters,
    users: kc.users.map((u) =>
      u.name === user.name
        ? { ...u, impersonateUser: `system:serviceaccount:${sa.namespace}:${sa.name}` }
        : u,
    ),
    contexts: kc.contexts,
    currentContext: kc.currentContext,
  });
  return copy;
}

function checked(kc: KubeConfig, source: string): KubeConfig {
  if (!kc.getCurrentCluster()) throw new KubeConfigError(`${source} has no current context with a cluster`);
  return kc;
}
