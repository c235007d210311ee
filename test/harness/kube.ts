import { randomBytes } from 'node:crypto';
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  VersionApi,
  Watch,
  type KubernetesObject,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, beforeEach, inject } from 'vitest';
import { startDevCluster, type DevCluster } from '../../src/devcluster/dev-cluster.ts';
import { eventually } from './eventually.ts';

/** Field manager the harness applies with unless a test names another. */
export const testFieldManager = 'kedge-test';

/** One event seen by `watch`: ADDED, MODIFIED, DELETED, BOOKMARK or ERROR, with its object. */
export interface WatchEvent {
  type: string;
  object: KubernetesObject;
}

/** A running watch; `events` grows as events arrive. Stopped automatically after the test. */
export interface WatchRecorder {
  readonly events: WatchEvent[];
  /** Set when the server or the connection ended the watch. */
  readonly error: unknown;
  stop(): void;
}

/**
 * What a test file gets from `kubeTestContext()`. Clients talk to the run's shared control plane, or, with
 * `nodes`, to the file's own cluster with nodes (usable from `beforeAll` on, not while the file is collected).
 */
export interface KubeTestContext {
  /** Path of the admin kubeconfig, for what the test starts (an engine, a CLI). */
  readonly kubeconfigPath: string;
  readonly kubeConfig: KubeConfig;
  readonly core: CoreV1Api;
  readonly objects: KubernetesObjectApi;
  readonly custom: CustomObjectsApi;
  readonly apiextensions: ApiextensionsV1Api;
  readonly version: VersionApi;
  /** The current test's own namespace (`kedge-test-<random>`); throws outside a test. */
  namespace(): string;
  /** Server-side apply (forced) of `object` with `fieldManager` (default `kedge-test`). */
  apply<T extends KubernetesObject>(object: T, fieldManager?: string): Promise<T>;
  /** Applies a CRD and waits until its Established condition is True. */
  applyCrd(crd: V1CustomResourceDefinition): Promise<void>;
  /** Watches `path` (e.g. `/api/v1/namespaces/ns/configmaps`) from now on. */
  watch(path: string, query?: Record<string, string>): Promise<WatchRecorder>;
}

/** Options of `kubeTestContext`. */
export interface KubeTestOptions {
  /**
   * 0 (default): the run's shared control plane, etcd + kube-apiserver only; nothing acts on what a test
   * applies. 1 or more: a cluster of the file's own with kube-controller-manager, kube-scheduler and that many
   * kwok-simulated nodes (pods run as simulated, Deployments roll out, namespaces are emptied on deletion),
   * started before the file's first test and stopped after its last.
   */
  nodes?: number;
}

/** What starting a cluster with nodes may wait for (`startDevCluster`): kube-apiserver 120 s, each node component 60 s. */
const clusterWithNodesBudgetMs = 120_000 + 4 * 60_000 + 30_000;

/**
 * Call once at the top of a test file. Each test gets a fresh namespace, created before it and deleted
 * after it (without a controller-manager a deleted namespace stays Terminating; names never repeat), and
 * every watch it opened is stopped.
 */
export function kubeTestContext(options: KubeTestOptions = {}): KubeTestContext {
  const nodes = options.nodes ?? 0;
  let clients: KubeClients | undefined = nodes === 0 ? kubeClients(inject('kubeconfig')) : undefined;
  let cluster: DevCluster | undefined;
  if (nodes > 0) {
    beforeAll(async () => {
      const started = Date.now();
      cluster = await startDevCluster({
        nodes,
        onProgress: (line) => process.stderr.write(`[kube-nodes] ${line}\n`),
      });
      process.stderr.write(
        `[kube-nodes] cluster with ${nodes} node(s) ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
      );
      clients = kubeClients(cluster.kubeconfigPath);
    }, clusterWithNodesBudgetMs);
    afterAll(async () => {
      await cluster?.stop();
    }, 60_000);
  }
  const get = (): KubeClients => {
    if (clients === undefined)
      throw new Error(
        'the cluster with nodes of kubeTestContext({ nodes }) is only available from beforeAll on',
      );
    return clients;
  };
  let current: string | undefined;
  const watches: WatchRecorder[] = [];

  beforeEach(async () => {
    current = `kedge-test-${randomBytes(4).toString('hex')}`;
    await get().core.createNamespace({
      body: { metadata: { name: current, labels: { 'kedge.dev/test': 'true' } } },
    });
  });
  afterEach(async () => {
    for (const recorder of watches.splice(0)) recorder.stop();
    const name = current;
    current = undefined;
    if (name !== undefined)
      await get()
        .core.deleteNamespace({ name })
        .catch(() => undefined);
  });

  const apply = <T extends KubernetesObject>(object: T, fieldManager = testFieldManager): Promise<T> =>
    get().objects.patch(object, undefined, undefined, fieldManager, true, PatchStrategy.ServerSideApply);

  return {
    get kubeconfigPath() {
      return get().path;
    },
    get kubeConfig() {
      return get().kubeConfig;
    },
    get core() {
      return get().core;
    },
    get objects() {
      return get().objects;
    },
    get custom() {
      return get().custom;
    },
    get apiextensions() {
      return get().apiextensions;
    },
    get version() {
      return get().version;
    },
    namespace: () => {
      if (current === undefined)
        throw new Error('kubeTestContext().namespace() is only available inside a test');
      return current;
    },
    apply,
    applyCrd: async (crd) => {
      await apply({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', ...crd });
      const name = crd.metadata?.name ?? '';
      await eventually(
        async () => {
          const read = await get().apiextensions.readCustomResourceDefinition({ name });
          return read.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
        },
        { what: `CRD ${name} to be Established` },
      );
    },
    watch: async (path, query = {}) => {
      const recorder = await startWatch(get().kubeConfig, path, query);
      watches.push(recorder);
      return recorder;
    },
  };
}

interface KubeClients {
  path: string;
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  objects: KubernetesObjectApi;
  custom: CustomObjectsApi;
  apiextensions: ApiextensionsV1Api;
  version: VersionApi;
}

function kubeClients(path: string): KubeClients {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(path);
  return {
    path,
    kubeConfig,
    core: kubeConfig.makeApiClient(CoreV1Api),
    objects: KubernetesObjectApi.makeApiClient(kubeConfig),
    custom: kubeConfig.makeApiClient(CustomObjectsApi),
    apiextensions: kubeConfig.makeApiClient(ApiextensionsV1Api),
    version: kubeConfig.makeApiClient(VersionApi),
  };
}

async function startWatch(
  kubeConfig: KubeConfig,
  path: string,
  query: Record<string, string>,
): Promise<WatchRecorder> {
  const events: WatchEvent[] = [];
  let error: unknown;
  const controller = await new Watch(kubeConfig).watch(
    path,
    query,
    (type, object: KubernetesObject) => events.push({ type, object }),
    (err: unknown) => {
      error = err ?? new Error(`watch on ${path} ended`);
    },
  );
  return {
    events,
    get error() {
      return error;
    },
    stop: () => controller.abort(),
  };
}
