import { Conditions, Reasons } from '../api/conditions.ts';
import type { ConditionSet } from './conditions.ts';
import { ReconcileError, StallingError, WaitingError, errorMessage } from './errors.ts';

/** Which conditions a reconciler owns, and how they bear on Ready. */
export interface ReadySummary {
  /** Conditions that mean trouble when True (FetchFailed, …), in priority order. */
  negative: readonly string[];
  /** Conditions that must be True for Ready (ArtifactInStorage, …), in priority order; the first gives Ready's message. */
  positive: readonly string[];
}

/**
 * Computes Ready, Reconciling and Stalled from a reconcile's outcome and the owned conditions — the only place
 * these three are written. Ready is never set by hand in a reconciler.
 */
export function summarizeConditions(
  conditions: ConditionSet,
  summary: ReadySummary,
  outcome: unknown,
  /** Ready's reason and message on success, when the kind has its own (Kustomization: ReconciliationSucceeded). */
  success?: { reason: string; message: string },
): void {
  if (outcome === undefined) {
    conditions.delete(Conditions.Reconciling);
    conditions.delete(Conditions.Stalled);
    const trouble = summary.negative.map((t) => conditions.get(t)).find((c) => c?.status === 'True');
    const missing = summary.positive.map((t) => conditions.get(t)).find((c) => c?.status !== 'True');
    const source = trouble ?? missing;
    if (source) {
      conditions.mark(Conditions.Ready, 'False', source.reason, source.message);
      return;
    }
    const first = summary.positive.map((t) => conditions.get(t)).find(Boolean);
    conditions.mark(
      Conditions.Ready,
      'True',
      success?.reason ?? Reasons.Succeeded,
      success?.message ?? first?.message ?? 'reconciliation succeeded',
    );
    return;
  }
  const reason = outcome instanceof ReconcileError ? outcome.reason : Reasons.Failed;
  const message = errorMessage(outcome);
  if (outcome instanceof StallingError) {
    conditions.delete(Conditions.Reconciling);
    conditions.mark(Conditions.Stalled, 'True', reason, message);
  } else {
    conditions.delete(Conditions.Stalled);
    const why = outcome instanceof WaitingError ? Reasons.Progressing : Reasons.ProgressingWithRetry;
    conditions.mark(Conditions.Reconciling, 'True', why, `retrying: ${message}`);
  }
  conditions.mark(Conditions.Ready, 'False', reason, message);
}
