import { describe, expect, it } from 'vitest';
import { parseManifests } from '../src/api/manifest.ts';

const manifest = (spec: string) => `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: app, namespace: flux-system}
spec:
  interval: 10m
  sourceRef: {kind: GitRepository, name: repo}
${spec}`;

describe('Kustomization manifests', () => {
  it('accepts every supported Flux v1 field', () => {
    const [object] = parseManifests(
      manifest(`  prune: true
  path: ./deploy
  retryInterval: 1m
  timeout: 3m
  targetNamespace: apps
  suspend: false
  wait: true
  healthChecks: [{apiVersion: apps/v1, kind: Deployment, name: web, namespace: apps}]
  dependsOn: [{name: infra}, {name: crds, namespace: other, readyExpr: "dep.metadata.labels['v'] == self.metadata.labels['v']"}]
  healthCheckExprs:
    - apiVersion: bitnami.com/v1alpha1
      kind: SealedSecret
      failed: status.conditions.filter(e, e.type == 'Synced').all(e, e.status == 'False')
      current: status.conditions.filter(e, e.type == 'Synced').all(e, e.status == 'True')
    - apiVersion: fluxcd.controlplane.io/v1
      inProgress: status.?conditions.orValue([]).size() == 0
      current: status.conditions.filter(e, e.type == 'Ready').all(e, e.status == 'True')
  patches: [{patch: "- op: add\\n  path: /metadata/labels/x\\n  value: y", target: {kind: Deployment, labelSelector: "app=web"}}]
  images: [{name: nginx, newTag: "1.27"}]
  components: [../components/extra]
  ignoreMissingComponents: true
  namePrefix: p-
  nameSuffix: -s
  commonMetadata: {labels: {team: a}, annotations: {note: b}}
  postBuild:
    substitute: {region: eu}
    substituteFrom: [{kind: ConfigMap, name: vars}, {kind: Secret, name: secret-vars, optional: true}]
  force: false
  serviceAccountName: deployer
  kubeConfig: {secretRef: {name: remote, key: value.yaml}}
  deletionPolicy: Orphan
  decryption: {provider: sops, secretRef: {name: sops-keys}}
`),
      'ks.yaml',
    );
    expect(object?.spec).toMatchObject({ prune: true, deletionPolicy: 'Orphan', kubeConfig: { secretRef: { name: 'remote' } } });
    expect(object?.spec).toMatchObject({ decryption: { provider: 'sops', secretRef: { name: 'sops-keys' } } });
  });

  it.each([
    { name: 'prune is required', spec: '  path: ./deploy\n', error: 'spec.prune' },
    { name: 'sourceRef kinds are Flux source kinds', spec: '  prune: true\n', source: 'HelmChart', error: 'spec.sourceRef.kind' },
    {
      name: 'a CEL health check that does not compile is refused with the expression and position',
      spec: '  prune: true\n  healthCheckExprs: [{apiVersion: bitnami.com/v1alpha1, kind: SealedSecret, current: "status.conditions.all(e, e.status ==", failed: "x ? "}]\n',
      error: "spec.healthCheckExprs.0.current: invalid CEL expression 'status.conditions.all(e, e.status ==': Unexpected token: EOF at line 1, column 37",
    },
    { name: 'every CEL problem is reported at once', spec: '  prune: true\n  healthCheckExprs: [{apiVersion: a/v1, current: "(", failed: "x ? "}]\n', error: 'spec.healthCheckExprs.0.failed: invalid CEL expression' },
    { name: 'current is required', spec: '  prune: true\n  healthCheckExprs: [{apiVersion: a/v1, kind: X, failed: "true"}]\n', error: 'spec.healthCheckExprs.0.current' },
    {
      name: 'two health checks for one group and kind are refused',
      spec: '  prune: true\n  healthCheckExprs: [{apiVersion: a.io/v1, kind: X, current: "true"}, {apiVersion: a.io/v2, kind: X, current: "false"}]\n',
      error: "spec.healthCheckExprs.1: duplicate health check expressions for kind X of group 'a.io' (first at healthCheckExprs.0)",
    },
    {
      name: 'a readyExpr that does not type-check is refused',
      spec: '  prune: true\n  dependsOn: [{name: infra, readyExpr: "dep.status.ready && other.x"}]\n',
      error: "spec.dependsOn.0.readyExpr: invalid CEL expression 'dep.status.ready && other.x': Unknown variable: other at line 1, column 21",
    },
    { name: 'sops is the only decryption provider', spec: '  prune: true\n  decryption: {provider: vault}\n', error: 'spec.decryption.provider' },
    { name: 'decryption with a cloud identity is refused', spec: '  prune: true\n  decryption: {provider: sops, serviceAccountName: kms}\n', error: 'needs a cloud identity' },
    { name: 'unknown deletion policies are rejected', spec: '  prune: true\n  deletionPolicy: Sometimes\n', error: 'spec.deletionPolicy' },
    { name: 'substituteFrom kinds are ConfigMap or Secret', spec: '  prune: true\n  postBuild: {substituteFrom: [{kind: Pod, name: x}]}\n', error: 'spec.postBuild.substituteFrom.0.kind' },
  ])('$name', ({ spec, source, error }) => {
    const text = manifest(spec).replace('kind: GitRepository', `kind: ${source ?? 'GitRepository'}`);
    expect(() => parseManifests(text, 'ks.yaml')).toThrow(error);
  });
});
