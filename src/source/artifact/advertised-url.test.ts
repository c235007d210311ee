import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { advertisedArtifactUrl, urlOfAddress } from './advertised-url.ts';

const outside = { env: {}, podNamespace: () => undefined };
const inPod = (namespace?: string) => ({
  env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', ...(namespace ? { RUNTIME_NAMESPACE: namespace } : {}) },
  podNamespace: () => 'from-service-account',
});

describe('artifact URLs (--storage-adv-addr)', () => {
  it('carry the advertised address, port 80 when it names none', () => {
    const bound = { host: '0.0.0.0', port: 9090 };
    expect(
      advertisedArtifactUrl({ ...inPod('x'), bound, advertised: 'kedge.kedge-system.svc.cluster.local.' }),
    ).toBe('http://kedge.kedge-system.svc.cluster.local.');
    expect(advertisedArtifactUrl({ ...outside, bound, advertised: 'artifacts.example.com:8080' })).toBe(
      'http://artifacts.example.com:8080',
    );
    expect(advertisedArtifactUrl({ ...outside, bound, advertised: '[fd00::1]:9090' })).toBe(
      'http://[fd00::1]:9090',
    );
  });

  it("default in a pod to the install's artifact Service in the pod's namespace", () => {
    const bound = { host: '0.0.0.0', port: 9090 };
    expect(advertisedArtifactUrl({ ...inPod('kedge-system'), bound })).toBe(
      'http://source-controller.kedge-system.svc.cluster.local.',
    );
    expect(advertisedArtifactUrl({ ...inPod(), bound })).toBe(
      'http://source-controller.from-service-account.svc.cluster.local.',
    );
  });

  it('never point at an unspecified address outside a pod', () => {
    expect(advertisedArtifactUrl({ ...outside, bound: { host: '127.0.0.1', port: 9090 } })).toBe(
      'http://127.0.0.1:9090',
    );
    for (const host of ['0.0.0.0', '::'])
      expect(advertisedArtifactUrl({ ...outside, bound: { host, port: 9090 } })).toBe(
        `http://${hostname()}:9090`,
      );
  });

  it('refuse an address clients cannot use, naming the flag', () => {
    for (const bad of ['0.0.0.0:9090', 'http://kedge', 'kedge/artifacts', 'kedge:0', ''])
      expect(() => urlOfAddress(bad)).toThrow(/--storage-adv-addr/);
  });
});
