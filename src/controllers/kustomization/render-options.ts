import type { Kustomization } from '../../api/kustomization.ts';
import type { RenderOptions } from '../../kustomize/render.ts';
import type { Store } from '../../store/store.ts';
import { decryptionKeys } from './decryption-keys.ts';
import { substitutionInputs } from './substitution-inputs.ts';

/**
 * The render options a Kustomization's spec stands for, rendering `path` under `root`: its overlay fields
 * (targetNamespace, name prefix/suffix, patches, images, components, commonMetadata), its `postBuild`
 * substitutions and its `decryption` keys, read from the store. The controller and `kedge build`/`kedge diff`
 * render alike through it; `where.decryption`, when given, replaces the keys the spec names.
 */
export async function renderOptionsOf(
  store: Store,
  namespace: string,
  spec: NonNullable<Kustomization['spec']>,
  where: Omit<RenderOptions, 'overlay' | 'substitutions'>,
): Promise<RenderOptions> {
  return {
    ...where,
    decryption: where.decryption ?? (await decryptionKeys(store, namespace, spec)),
    overlay: {
      targetNamespace: spec.targetNamespace,
      namePrefix: spec.namePrefix,
      nameSuffix: spec.nameSuffix,
      patches: spec.patches,
      images: spec.images,
      components: spec.components,
      ignoreMissingComponents: spec.ignoreMissingComponents,
      commonMetadata: spec.commonMetadata,
    },
    substitutions: await substitutionInputs(store, namespace, spec),
  };
}
