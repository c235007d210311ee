import { Conditions, ReconcileRequestAnnotation, Reasons } from '../api/conditions.ts';
import type { Condition, KObject, ObjectRef } from '../api/meta.ts';
import type { Store } from '../store/store.ts';
import { ConditionSet } from './conditions.ts';
import { summarizeConditions, type ReadySummary } from './summarize.ts';

/** The status fields every reconciled kind shares (Flux's `ReconcileRequestStatus` plus conditions). */
export interface ReconciledStatus {
  conditions?: Condition[];
  observedGeneration?: number;
  lastHandledReconcileAt?: string;
}

/** The message Flux writes on Reconciling and Ready while a new generation or request is being worked on. */
export const PROGRESSING_MESSAGE = 'reconciliation in progress';

/** Options of {@link ReconcileRun.finish}. */
export interface FinishOptions {
  /** Ready's reason and message on success, when the kind has its own (Kustomization: ReconciliationSucceeded). */
  success?: { reason: string; message: string };
  /** Whether this outcome has seen the generation (`status.observedGeneration`). Default: on success only. */
  observed?: boolean;
}

/**
 * One reconcile of one object, after Flux's SerialPatcher and summarize helper: a working copy of the status
 * and its conditions, patched to the store as a whole. Guarantees: {@link finish} computes Ready/Reconciling/
 * Stalled from the owned conditions, records `observedGeneration` (on success unless told otherwise) and
 * `lastHandledReconcileAt` (from `reconcile.fluxcd.io/requestedAt`), and writes status once; {@link readyBefore}
 * is Ready's status as the run found it, for events on Ready transitions.
 */
export class ReconcileRun<T extends KObject<unknown, ReconciledStatus>> {
  /** The object as last written by this run (each patch refreshes it). */
  object: T;
  readonly status: NonNullable<T['status']>;
  readonly conditions: ConditionSet;
  readonly readyBefore: Condition['status'] | undefined;

  constructor(
    private readonly store: Store,
    readonly ref: ObjectRef,
    object: T,
  ) {
    this.object = object;
    this.status = structuredClone(object.status ?? {});
    this.conditions = new ConditionSet(object.status?.conditions, object.metadata.generation ?? 1);
    this.readyBefore = this.conditions.get(Conditions.Ready)?.status;
  }

  /** True when the object has a generation this controller has not finished, as status records it. */
  get newGeneration(): boolean {
    return this.status.observedGeneration !== this.object.metadata.generation;
  }

  /** The `reconcile.fluxcd.io/requestedAt` annotation, if any. */
  get requestedAt(): string | undefined {
    return this.object.metadata.annotations?.[ReconcileRequestAnnotation];
  }

  /**
   * Tell watchers a reconcile of a new generation or an unhandled request has begun (Flux: Reconciling=True,
   * Ready=Unknown when Ready is missing or the generation is new) and patch status; otherwise does nothing.
   */
  async markProgressing(): Promise<void> {
    const requested = this.requestedAt;
    if (!this.newGeneration && (requested === undefined || requested === this.status.lastHandledReconcileAt)) return;
    this.markProgressingAs(PROGRESSING_MESSAGE, !this.conditions.get(Conditions.Ready) || this.newGeneration);
    await this.patch();
  }

  /** Reconciling=True (Progressing) with `message`, and Ready=Unknown too when `readyUnknown`; not patched. */
  markProgressingAs(message: string, readyUnknown: boolean): void {
    this.conditions.mark(Conditions.Reconciling, 'True', Reasons.Progressing, message);
    if (readyUnknown) this.conditions.mark(Conditions.Ready, 'Unknown', Reasons.Progressing, message);
  }

  /** Write the working status (with its conditions) to the store and keep the updated object. */
  async patch(): Promise<void> {
    this.status.conditions = this.conditions.toArray();
    this.object = (await this.store.updateStatus(this.ref, this.status)) as T;
  }

  /** Summarize the outcome into Ready/Reconciling/Stalled, record what was handled, and patch status once. */
  async finish(summary: ReadySummary, outcome: unknown, options: FinishOptions = {}): Promise<void> {
    summarizeConditions(this.conditions, summary, outcome, options.success);
    if (options.observed ?? outcome === undefined) this.status.observedGeneration = this.object.metadata.generation;
    const requested = this.requestedAt;
    if (requested !== undefined) this.status.lastHandledReconcileAt = requested;
    await this.patch();
  }
}
