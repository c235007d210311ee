import { rollbackHoldOf } from '../api/history.ts';
import type { Store } from '../store/store.ts';

/** Kinds whose history and rollback holds refer to source artifacts. */
const KINDS_WITH_HISTORY = ['Kustomization', 'App'];

/**
 * Artifact paths (relative to the storage root) under `<kind>/<namespace>/<name>/` that recorded history or a
 * held rollback still refers to: source garbage collection keeps them, so a rollback to any recorded revision
 * finds its artifact. Read when a source stores a new artifact (rare), one store query per kind.
 */
export async function retainedArtifactPaths(
  store: Store,
  source: { kind: string; namespace: string; name: string },
): Promise<string[]> {
  const prefix = `${source.kind.toLowerCase()}/${source.namespace}/${source.name}/`;
  const paths = new Set<string>();
  for (const kind of KINDS_WITH_HISTORY) {
    for (const { entry } of await store.listHistoryOfKind(kind))
      if (entry.artifact?.path.startsWith(prefix)) paths.add(entry.artifact.path);
    for (const object of await store.list(kind)) {
      const held = rollbackHoldOf(object.metadata.annotations)?.artifact.path;
      if (held?.startsWith(prefix)) paths.add(held);
    }
  }
  return [...paths];
}
