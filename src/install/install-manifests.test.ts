import { describe, expect, it } from 'vitest';
import { customResourceDefinitions } from '../api/crds.ts';
import type { KObject } from '../api/meta.ts';
import { installManifests, type InstallOptions } from './install-manifests.ts';

interface Container {
  name: string;
  image: string;
  command: string[];
  args?: string[];
}
interface PodSpec {
  initContainers?: Container[];
  containers: Container[];
  volumes: { name: string }[];
}

function deploymentOf(objects: KObject[]): { replicas: number; pod: PodSpec } {
  const d = objects.find((o) => o.kind === 'Deployment')!.spec as {
    replicas: number;
    template: { spec: PodSpec };
  };
  return { replicas: d.replicas, pod: d.template.spec };
}

const base: InstallOptions = { namespace: 'kedge-system', version: '1.2.3' };

describe('installManifests', () => {
  it.each([
    ['default: the release image of this version', base, 'ghcr.io/kedge-dev/kedge:v1.2.3'],
    ['--image', { ...base, image: 'registry.local/kedge:dev' }, 'registry.local/kedge:dev'],
  ])('%s: kedge on its PATH, no init container', (_name, options, image) => {
    const { pod } = deploymentOf(installManifests(options));
    expect(pod.containers[0]!.image).toBe(image);
    expect(pod.containers[0]!.command).toEqual(['kedge']);
    expect(pod.initContainers).toBeUndefined();
    expect(pod.volumes.map((v) => v.name)).toEqual(['data', 'tmp']);
  });

  it('advertises artifact URLs under the artifact Service, not the 0.0.0.0 it listens on', () => {
    const { pod } = deploymentOf(installManifests({ ...base, namespace: 'gitops' }));
    expect(pod.containers[0]!.args).toEqual(
      expect.arrayContaining([
        '--storage-addr=0.0.0.0:9090',
        '--storage-adv-addr=source-controller.gitops.svc.cluster.local.',
      ]),
    );
  });

  it('runs kedge up with the Kubernetes store and leader election, replicas as asked', () => {
    const { replicas, pod } = deploymentOf(installManifests({ ...base, replicas: 3 }));
    expect(replicas).toBe(3);
    expect(pod.containers[0]!.args).toEqual(
      expect.arrayContaining(['up', '--store=kubernetes', '--leader-elect']),
    );
  });

  it('puts namespaced objects in the install namespace and names cluster-scoped RBAC after it', () => {
    const objects = installManifests({ ...base, namespace: 'gitops' });
    const clusterScoped = new Set([
      'CustomResourceDefinition',
      'Namespace',
      'ClusterRole',
      'ClusterRoleBinding',
    ]);
    for (const o of objects.filter((x) => !clusterScoped.has(x.kind)))
      expect(o.metadata.namespace, o.kind).toBe('gitops');
    expect(objects.filter((o) => o.kind.startsWith('ClusterRole')).map((o) => o.metadata.name)).toEqual([
      'kedge-controller-gitops',
      'kedge-controller-gitops',
      'kedge-cluster-reconciler-gitops',
    ]);
  });

  it('grants the controller every custom kind, its status and its finalizers', () => {
    const role = installManifests(base).find((o) => o.kind === 'ClusterRole') as KObject & {
      rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
    };
    for (const crd of customResourceDefinitions()) {
      const spec = crd.spec as { group: string; names: { plural: string } };
      const allowed = (resource: string, verb: string) =>
        role.rules.some(
          (r) => r.apiGroups.includes(spec.group) && r.resources.includes(resource) && r.verbs.includes(verb),
        );
      for (const verb of ['get', 'list', 'watch', 'update', 'patch'])
        expect(allowed(spec.names.plural, verb), `${verb} ${spec.names.plural}`).toBe(true);
      expect(allowed(`${spec.names.plural}/status`, 'patch')).toBe(true);
      expect(allowed(`${spec.names.plural}/finalizers`, 'update')).toBe(true);
    }
  });
});
