/**
 * A lane of urgent work beside the work queue (drift undo): items are gathered per key, at most one run per
 * key at a time, and items that arrive for a key while it is waiting or running are coalesced into its next
 * run — ten events on one object cause one or two runs, never ten. Runs on workers of its own (`concurrency`),
 * so it never waits behind the queue's interval reconciles.
 */
export class PriorityLane<T> {
  readonly #pending = new Map<string, Set<T>>();
  readonly #order: string[] = [];
  readonly #running = new Set<string>();
  #active = 0;
  #closed = false;

  constructor(
    private readonly concurrency: number,
    private readonly work: (key: string, items: T[]) => Promise<void>,
    private readonly onError: (key: string, error: unknown) => void = () => undefined,
  ) {}

  /** Queue `item` for `key`; a no-op once closed. */
  add(key: string, item: T): void {
    if (this.#closed) return;
    let items = this.#pending.get(key);
    if (!items) {
      items = new Set();
      this.#pending.set(key, items);
      this.#order.push(key);
    }
    items.add(item);
    this.#pump();
  }

  /** Drops what is pending for `key` (e.g. a full reconcile made it moot). A run in progress finishes. */
  drop(key: string): void {
    this.#pending.delete(key);
  }

  /** Runs and items waiting now, for metrics and tests. */
  get size(): number {
    return this.#pending.size + this.#running.size;
  }

  /** Stops starting runs; pending items are dropped. */
  close(): void {
    this.#closed = true;
    this.#pending.clear();
    this.#order.length = 0;
  }

  #pump(): void {
    // Keys dropped while queued leave stale entries in the order; forget them.
    for (let i = this.#order.length - 1; i >= 0; i--)
      if (!this.#pending.has(this.#order[i]!)) this.#order.splice(i, 1);
    while (!this.#closed && this.#active < this.concurrency) {
      const index = this.#order.findIndex((key) => !this.#running.has(key) && this.#pending.has(key));
      if (index < 0) return;
      const [key] = this.#order.splice(index, 1) as [string];
      const items = [...this.#pending.get(key)!];
      this.#pending.delete(key);
      this.#running.add(key);
      this.#active++;
      void this.work(key, items)
        .catch((error: unknown) => this.onError(key, error))
        .finally(() => {
          this.#running.delete(key);
          this.#active--;
          if (this.#pending.has(key) && !this.#order.includes(key)) this.#order.push(key);
          this.#pump();
        });
    }
  }
}
