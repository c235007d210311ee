import { Conditions, Reasons } from '../api/conditions.ts';
import type { Condition, KObject } from '../api/meta.ts';
import { refOf, refString } from '../api/meta.ts';
import type { Store } from '../store/store.ts';
import { mark } from './output/style.ts';
import { describeKind } from './resource-types.ts';

/** The Ready condition of an object, if it has one. */
export function readyOf(object: KObject): Condition | undefined {
  return (object.status as { conditions?: Condition[] } | undefined)?.conditions?.find((c) => c.type === Conditions.Ready);
}

/** One line for an object's Ready condition: ✔ ready, ✗ failed, ◎ in progress. */
export function describeReady(object: KObject): string {
  const ready = readyOf(object);
  const name = `${describeKind(object.kind)} ${object.metadata.namespace}/${object.metadata.name}`;
  if (!ready) return mark.waiting(`${name}: waiting to be reconciled`);
  if (ready.status === 'True') return mark.success(`${name}: ${ready.message}`);
  // Waiting on something that is on its way (a rollout, a dependency) is progress, not failure.
  const reconciling = (object.status as { conditions?: Condition[] } | undefined)?.conditions?.find(
    (c) => c.type === Conditions.Reconciling,
  );
  if (ready.status === 'False' && reconciling?.reason !== Reasons.Progressing) return mark.failure(`${name}: ${ready.message}`);
  return mark.waiting(`${name}: ${ready.message}`);
}

/**
 * Prints a line whenever an object's Ready condition changes (status, reason or message), so a person
 * running `kedge up` sees what is reconciling, what became ready and what failed. Returns stop.
 */
export function reportProgress(store: Store, write: (line: string) => void): () => void {
  const last = new Map<string, string>();
  return store.watch(undefined, (event) => {
    const key = refString(refOf(event.object));
    if (event.type === 'DELETED') {
      last.delete(key);
      write(mark.action(`${describeKind(event.object.kind)} ${key.split('/').slice(1).join('/')} deleted`));
      return;
    }
    const ready = readyOf(event.object);
    if (!ready) return;
    const print = `${ready.status}|${ready.reason}|${ready.message}`;
    if (last.get(key) === print) return;
    last.set(key, print);
    write(describeReady(event.object));
  });
}
