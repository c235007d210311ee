import { describe, expect, it } from 'vitest';
import { ManifestError, parseManifests } from './manifest.ts';

const object = (kind: string, spec: string) => `apiVersion: source.toolkit.fluxcd.io/v1
kind: ${kind}
metadata: {name: podinfo, namespace: flux-system}
spec:
${spec}`;

function problemsOf(text: string): string {
  try {
    parseManifests(text, 'helm.yaml');
  } catch (error) {
    if (error instanceof ManifestError) return error.message;
    throw error;
  }
  return '';
}

// Flux's own examples load unchanged; what Kedge cannot do is refused with the way out.
describe('HelmRepository and HelmChart manifests', () => {
  it.each([
    ['HelmRepository', '  interval: 5m0s\n  url: https://stefanprodan.github.io/podinfo\n'],
    ['HelmRepository', '  type: "oci"\n  interval: 5m0s\n  url: oci://ghcr.io/stefanprodan/charts\n'],
    [
      'HelmChart',
      "  interval: 5m0s\n  chart: podinfo\n  reconcileStrategy: ChartVersion\n  sourceRef:\n    kind: HelmRepository\n    name: podinfo\n  version: '5.*'\n",
    ],
    [
      'HelmChart',
      '  interval: 1m\n  chart: ./charts/podinfo\n  sourceRef: {kind: GitRepository, name: podinfo}\n  valuesFiles: [values.yaml]\n',
    ],
  ])('accepts a Flux %s', (kind, spec) => {
    expect(problemsOf(object(kind, spec))).toBe('');
  });

  it.each([
    ['HelmRepository', '  url: oci://ghcr.io/x\n', 'an oci:// url needs type: oci'],
    ['HelmRepository', '  type: oci\n  url: https://example.com\n', 'type: oci needs an oci:// url'],
    ['HelmRepository', '  type: oci\n  url: oci://x.io/y\n  provider: aws\n', 'workload identity'],
    [
      'HelmChart',
      '  interval: 1m\n  chart: x\n  sourceRef: {kind: HelmRepository, name: x}\n  verify: {provider: cosign}\n',
      'verify (cosign/notation signature verification) is not supported by Kedge',
    ],
    [
      'HelmChart',
      '  interval: 1m\n  chart: x\n  sourceRef: {kind: OCIRepository, name: x}\n',
      'sourceRef.kind',
    ],
  ])('refuses a %s: %s', (kind, spec, message) => {
    expect(problemsOf(object(kind, spec))).toContain(message);
  });
});
