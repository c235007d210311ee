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
import { afterEach, beforeEach, inject } from 'vitest';
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

/** What a test file gets from `kubeTestContext()`. Clients talk to the run's shared control plane. */
export interface KubeTestContext {
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

/**
 * Call once at the top of a test file. Each test gets a fresh namespace, created before it and deleted
 * after it (without a controller-manager a deleted namespace stays Terminating; names never repeat), and
 * every watch it opened is stopped.
 */
export function kubeTestContext(): KubeTestContext {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(inject('kubeconfig'));
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const objects = KubernetesObjectApi.makeApiClient(kubeConfig);
  const apiextensions = kubeConfig.makeApiClient(ApiextensionsV1Api);
  let current: string | undefined;
  const watches: WatchRecorder[] = [];

  beforeEach(async () => {
    current = `kedge-test-${randomBytes(4).toString('hex')}`;
    await core.createNamespace({ body: { metadata: { name: current, labels: { 'kedge.dev/test': 'true' } } } });
  });
  afterEach(async () => {
    for (const recorder of watches.splice(0)) recorder.stop();
    const name = current;
    current = undefined;
    if (name !== undefined) await core.deleteNamespace({ name }).catch(() => undefined);
  });

  const apply = <T extends KubernetesObject>(object: T, fieldManager = testFieldManager): Promise<T> =>
    objects.patch(object, undefined, undefined, fieldManager, true, PatchStrategy.ServerSideApply);

  return {
    kubeConfig,
    core,
    objects,
    custom: kubeConfig.makeApiClient(CustomObjectsApi),
    apiextensions,
    version: kubeConfig.makeApiClient(VersionApi),
    namespace: () => {
      if (current === undefined) throw new Error('kubeTestContext().namespace() is only available inside a test');
      return current;
    },
    apply,
    applyCrd: async (crd) => {
      await apply({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', ...crd });
      const name = crd.metadata?.name ?? '';
      await eventually(async () => {
        const read = await apiextensions.readCustomResourceDefinition({ name });
        return read.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
      }, { what: `CRD ${name} to be Established` });
    },
    watch: async (path, query = {}) => {
      const recorder = await startWatch(kubeConfig, path, query);
      watches.push(recorder);
      return recorder;
    },
  };
}

async function startWatch(kubeConfig: KubeConfig, path: string, query: Record<string, string>): Promise<WatchRecorder> {
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
