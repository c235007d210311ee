import { FLUX_HISTORY_LIMIT, type FluxSnapshot } from '../api/history.ts';

/** One finished reconcile as Flux's history snapshot describes it. */
export interface SnapshotInput {
  /** `sha256:<hex>` of what was reconciled (the inventory and revision). */
  digest: string;
  time: Date;
  durationMs: number;
  /** Ready's reason, e.g. `ReconciliationSucceeded`. */
  status: string;
  metadata?: Record<string, string>;
}

/**
 * Flux's `status.history` upsert: a reconcile of the same digest as the newest snapshot updates it (last time,
 * duration, status, count); another digest goes first. At most five snapshots, newest first.
 */
export function upsertFluxHistory(
  history: readonly FluxSnapshot[] | undefined,
  input: SnapshotInput,
): FluxSnapshot[] {
  const time = kubeTime(input.time);
  const latest = history?.[0];
  const duration = goDuration(input.durationMs);
  if (latest && latest.digest === input.digest) {
    const updated: FluxSnapshot = {
      ...latest,
      lastReconciled: time,
      lastReconciledDuration: duration,
      lastReconciledStatus: input.status,
      totalReconciliations: (latest.totalReconciliations ?? 0) + 1,
      ...(input.metadata ? { metadata: input.metadata } : {}),
    };
    return [updated, ...(history ?? []).slice(1, FLUX_HISTORY_LIMIT)];
  }
  const snapshot: FluxSnapshot = {
    digest: input.digest,
    firstReconciled: time,
    lastReconciled: time,
    lastReconciledDuration: duration,
    lastReconciledStatus: input.status,
    totalReconciliations: 1,
    ...(input.metadata ? { metadata: input.metadata } : {}),
  };
  return [snapshot, ...(history ?? [])].slice(0, FLUX_HISTORY_LIMIT);
}

/** metav1.Time: RFC 3339 in seconds. */
function kubeTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A duration as Go's `time.Duration.String()` writes it for these magnitudes: `350ms`, `1.25s`, `2m3.5s`. */
export function goDuration(ms: number): string {
  const whole = Math.max(0, Math.round(ms));
  if (whole < 1000) return `${whole}ms`;
  const minutes = Math.floor(whole / 60_000);
  const seconds = (whole % 60_000) / 1000;
  const secondsText = `${Number(seconds.toFixed(3))}s`;
  return minutes > 0 ? `${minutes}m${secondsText}` : secondsText;
}
