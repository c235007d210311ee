import type { KObject } from '../../api/meta.ts';

/**
 * An object as the store hands it out: what the API server sent, less `metadata.managedFields` (server-side
 * apply bookkeeping that no Store user reads and that would make every object several times larger).
 */
export function storedObject(object: KObject): KObject {
  const { managedFields: _managed, ...metadata } = object.metadata as KObject['metadata'] & {
    managedFields?: unknown;
  };
  return { ...object, metadata };
}
