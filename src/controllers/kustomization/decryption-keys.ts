import { secretValues } from '../../api/core.ts';
import type { KustomizationSpec } from '../../api/kustomization.ts';
import { DecryptionError } from '../../kustomize/sops/decryption-error.ts';
import { sopsKeysFromSecret, type SopsKeys } from '../../kustomize/sops/sops-keys.ts';
import type { Store } from '../../store/store.ts';

/**
 * The keys of `spec.decryption`, read from the store: the `*.agekey` and `*.asc` entries of the Secret named by
 * `secretRef` in the Kustomization's namespace, as Flux reads them. Undefined without `spec.decryption`; no keys
 * at all without a `secretRef` (an encrypted file then fails, naming it). A missing Secret → `DecryptionError`.
 */
export async function decryptionKeys(
  store: Store,
  namespace: string,
  spec: KustomizationSpec,
): Promise<SopsKeys | undefined> {
  const decryption = spec.decryption;
  if (!decryption) return undefined;
  if (!decryption.secretRef)
    return sopsKeysFromSecret({}, 'no decryption Secret (spec.decryption.secretRef is not set)');
  const name = `${namespace}/${decryption.secretRef.name}`;
  const secret = await store.get({ kind: 'Secret', namespace, name: decryption.secretRef.name });
  if (!secret) throw new DecryptionError(`cannot get sops decryption Secret '${name}': Secret not found`);
  return sopsKeysFromSecret(secretValues(secret), `sops decryption Secret '${name}'`);
}
