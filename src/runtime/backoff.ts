/** Per-key exponential backoff: `minMs · 2^failures`, capped at `maxMs`; `forget` after a success. */
export class Backoff {
  private readonly failures = new Map<string, number>();

  constructor(
    readonly minMs = 750,
    readonly maxMs = 15 * 60_000,
  ) {}

  /** The delay before retrying `key` after one more failure. */
  next(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    return Math.min(this.maxMs, this.minMs * 2 ** n);
  }

  forget(key: string): void {
    this.failures.delete(key);
  }
}

/** `ms` spread by up to ±`fraction`, so many objects with one interval do not all wake at once. */
export function withJitter(ms: number, fraction = 0.05): number {
  return Math.round(ms * (1 + fraction * (2 * Math.random() - 1)));
}
