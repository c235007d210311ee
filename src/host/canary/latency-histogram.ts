/** Smallest bucket bound in milliseconds; bounds grow by {@link FACTOR} per bucket up to about 2 minutes. */
const FIRST_MS = 0.25;
const FACTOR = 1.2;
const LOG_FACTOR = Math.log(FACTOR);
export const LATENCY_BUCKETS = Math.ceil(Math.log(120_000 / FIRST_MS) / LOG_FACTOR) + 1;

/** Upper bound in milliseconds of bucket `i`. */
export function bucketBoundMs(i: number): number {
  return FIRST_MS * FACTOR ** i;
}

/**
 * Request counts by latency, in geometric buckets (each 20 % wider than the one before), so that recording
 * is O(1) on the forwarding path and a percentile is known to within 20 %.
 */
export class LatencyHistogram {
  readonly counts = new Uint32Array(LATENCY_BUCKETS);
  total = 0;

  record(ms: number): void {
    const i =
      ms <= FIRST_MS ? 0 : Math.min(LATENCY_BUCKETS - 1, Math.ceil(Math.log(ms / FIRST_MS) / LOG_FACTOR));
    this.counts[i]!++;
    this.total++;
  }

  /** The upper bound (ms) of the bucket holding the `q`-quantile (0 < q ≤ 1); 0 when empty. */
  static quantileMs(counts: ArrayLike<number>, q: number): number {
    let total = 0;
    for (let i = 0; i < counts.length; i++) total += counts[i]!;
    if (total === 0) return 0;
    const rank = Math.ceil(q * total);
    let seen = 0;
    for (let i = 0; i < counts.length; i++) {
      seen += counts[i]!;
      if (seen >= rank) return Math.round(bucketBoundMs(i) * 100) / 100;
    }
    return bucketBoundMs(counts.length - 1);
  }
}
