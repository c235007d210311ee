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
  dependsOn: [{name: infra}, {name: crds, namespace: other}]
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
    { name: 'OCIRepository sources are rejected', spec: '  prune: true\n', source: 'OCIRepository', error: 'only GitRepository sources' },
    { name: 'Bucket sources are rejected', spec: '  prune: true\n', source: 'Bucket', error: 'only GitRepository sources' },
    { name: 'CEL health checks are rejected', spec: '  prune: true\n  healthCheckExprs: [{apiVersion: v1, kind: X, current: "true"}]\n', error: 'healthCheckExprs' },
    { name: 'sops is the only decryption provider', spec: '  prune: true\n  decryption: {provider: vault}\n', error: 'spec.decryption.provider' },
    { name: 'decryption with a cloud identity is refused', spec: '  prune: true\n  decryption: {provider: sops, serviceAccountName: kms}\n', error: 'needs a cloud identity' },
    { name: 'unknown deletion policies are rejected', spec: '  prune: true\n  deletionPolicy: Sometimes\n', error: 'spec.deletionPolicy' },
    { name: 'substituteFrom kinds are ConfigMap or Secret', spec: '  prune: true\n  postBuild: {substituteFrom: [{kind: Pod, name: x}]}\n', error: 'spec.postBuild.substituteFrom.0.kind' },
  ])('$name', ({ spec, source, error }) => {
    const text = manifest(spec).replace('kind: GitRepository', `kind: ${source ?? 'GitRepository'}`);
    expect(() => parseManifests(text, 'ks.yaml')).toThrow(error);
  });
});
