import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { ApplyManager } from '../src/apply/apply-manager.ts';
import { ApplyError } from '../src/apply/errors.ts';
import { KubeConfigError, KubeTarget, kubeConfigFromSecret, kubeConfigFromString } from '../src/apply/kube-client.ts';
import { configMap } from './fixtures/apply/objects.ts';
import { kubeTestContext } from './harness/kube.ts';

const kube = kubeTestContext();
const owner = { name: 'apps', namespace: 'flux-system' };

describe('kube client', () => {
  it('builds a working target from a kubeconfig Secret (key value, then value.yaml)', async () => {
    const text = readFileSync(inject('kubeconfig'), 'utf8');
    for (const key of ['value', 'value.yaml']) {
      const kc = kubeConfigFromSecret({ metadata: { name: 'remote', namespace: 'flux-system' }, data: { [key]: Buffer.from(text).toString('base64') } });
      const target = new KubeTarget(kc);
      try {
        const [entry] = await new ApplyManager(target).applyAllStaged([configMap(kube.namespace(), `via-${key.replace('.', '-')}`, { a: '1' })], { owner });
        expect(entry?.action).toBe('created');
      } finally {
        target.close();
      }
    }
  });

  it('names the Secret and the expected keys, never the content, when the kubeconfig is missing or invalid', () => {
    expect(() => kubeConfigFromSecret({ metadata: { name: 'remote', namespace: 'ns' }, data: { other: 'eA==' } }))
      .toThrow(new KubeConfigError("Secret/ns/remote has no kubeconfig: expected key 'value' or 'value.yaml'"));
    expect(() => kubeConfigFromString('clusters: [', 'kubeconfig in Secret/ns/remote')).toThrow('kubeconfig in Secret/ns/remote is not a valid kubeconfig');
  });

  it('impersonates a service account, so its RBAC decides what may be applied', async () => {
    const ns = kube.namespace();
    const target = new KubeTarget(kube.kubeConfig).impersonating({ namespace: ns, name: 'deployer' });
    try {
      const error = await new ApplyManager(target).applyAllStaged([configMap(ns, 'denied', { a: '1' })], { owner }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ApplyError);
      expect((error as Error).message).toContain(`"system:serviceaccount:${ns}:deployer" cannot get resource "configmaps"`);
    } finally {
      target.close();
    }
  });
});
