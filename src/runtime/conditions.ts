import type { Condition } from '../api/meta.ts';

/** A condition without the bookkeeping fields the setter fills in. */
export type ConditionInput = Pick<Condition, 'type' | 'status' | 'reason' | 'message'>;

/**
 * The conditions of one object during one reconcile. `lastTransitionTime` moves only when a condition's
 * status changes, as metav1 requires; every set condition records the generation it describes.
 */
export class ConditionSet {
  private readonly list: Condition[];

  constructor(
    existing: readonly Condition[] | undefined,
    private readonly generation: number,
  ) {
    this.list = (existing ?? []).map((c) => ({ ...c }));
  }

  get(type: string): Condition | undefined {
    return this.list.find((c) => c.type === type);
  }

  isTrue(type: string): boolean {
    return this.get(type)?.status === 'True';
  }

  set(input: ConditionInput): void {
    const current = this.get(input.type);
    const now = new Date().toISOString();
    const next: Condition = {
      ...input,
      observedGeneration: this.generation,
      lastTransitionTime: current && current.status === input.status ? current.lastTransitionTime : now,
    };
    if (current) Object.assign(current, next);
    else this.list.push(next);
  }

  mark(type: string, status: Condition['status'], reason: string, message: string): void {
    this.set({ type, status, reason, message });
  }

  delete(type: string): void {
    const i = this.list.findIndex((c) => c.type === type);
    if (i >= 0) this.list.splice(i, 1);
  }

  /** Ready first, then Reconciling and Stalled, then the rest in insertion order — as Flux orders them. */
  toArray(): Condition[] {
    const rank = (t: string) => ['Ready', 'Reconciling', 'Stalled'].indexOf(t);
    return [...this.list].sort((a, b) => {
      const ra = rank(a.type);
      const rb = rank(b.type);
      return (ra < 0 ? 99 : ra) - (rb < 0 ? 99 : rb);
    });
  }
}
