import { keyOf, type ObjectSummary } from './api.ts';

/** Failing first, then in progress, suspended, unknown, ready (as the server's `stateOrder`). */
export const states = ['failed', 'progressing', 'suspended', 'unknown', 'ready'] as const;

/** Everything the page knows: every object's summary, kept current by the live stream. */
export class ObjectState {
  kinds: string[] = [];
  readonly objects = new Map<string, ObjectSummary>();
  private readonly listeners = new Set<(changed: Set<string>) => void>();

  reset(kinds: string[], objects: ObjectSummary[]): void {
    this.kinds = kinds;
    this.objects.clear();
    for (const o of objects) this.objects.set(keyOf(o), o);
    this.emit(new Set(this.objects.keys()));
  }

  apply(upserts: ObjectSummary[], deletes: string[]): void {
    const changed = new Set<string>();
    for (const o of upserts) {
      this.objects.set(keyOf(o), o);
      changed.add(keyOf(o));
    }
    for (const key of deletes) {
      this.objects.delete(key);
      changed.add(key);
    }
    this.emit(changed);
  }

  onChange(listener: (changed: Set<string>) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  ofKind(kind: string): ObjectSummary[] {
    return [...this.objects.values()].filter((o) => o.kind === kind);
  }

  private emit(changed: Set<string>): void {
    for (const listener of this.listeners) listener(changed);
  }
}

/** Failing first, then by namespace and name. */
export function byStateThenName(a: ObjectSummary, b: ObjectSummary): number {
  return (
    states.indexOf(a.state) - states.indexOf(b.state) ||
    a.namespace.localeCompare(b.namespace) ||
    a.name.localeCompare(b.name) ||
    a.kind.localeCompare(b.kind)
  );
}

export function objectHref(o: { kind: string; namespace: string; name: string }): string {
  return `#/object/${encodeURIComponent(o.kind)}/${encodeURIComponent(o.namespace)}/${encodeURIComponent(o.name)}`;
}
