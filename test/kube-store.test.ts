import { beforeAll } from 'vitest';
import { KubeRest } from '../src/apply/kube-rest.ts';
import { ensureCustomResourceDefinitions } from '../src/store/kubernetes/ensure-crds.ts';
import { openKubernetesStore } from '../src/store/kubernetes/kubernetes-store.ts';
import { describeStoreConformance } from '../src/store/store-conformance.ts';
import { kubeTestContext } from './harness/kube.ts';

const kube = kubeTestContext();

beforeAll(async () => {
  const rest = new KubeRest(kube.kubeConfig);
  await ensureCustomResourceDefinitions(rest).finally(() => rest.close());
});

describeStoreConformance(
  'kubernetes, Kedge CRDs',
  async () => {
    const main = kube.namespace();
    const other = `${main}-other`;
    await kube.core.createNamespace({
      body: { metadata: { name: other, labels: { 'kedge.dev/test': 'true' } } },
    });
    const open = () => openKubernetesStore({ kubeConfig: kube.kubeConfig, defaultNamespace: main });
    return {
      store: await open(),
      openAnother: open,
      namespaces: [main, other],
      cleanup: async () => {
        await kube.core.deleteNamespace({ name: other }).catch(() => undefined);
      },
    };
  },
  { coreKindGeneration: false },
);
