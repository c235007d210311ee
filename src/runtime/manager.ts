import type { ObjectRef } from '../api/meta.ts';
import type { Store } from '../store/store.ts';
import { Controller, type ControllerOptions, type ReconcileFinished } from './controller.ts';
import type { Logger } from './logger.ts';
import type { EngineMetrics } from './metrics.ts';
import type { Reconciler } from './reconciler.ts';

/** Owns every controller of the engine: starts them together, routes on-demand requests, stops them. */
export class Manager {
  private readonly controllers = new Map<string, Controller>();
  private readonly finishedListeners = new Set<(finished: ReconcileFinished) => void>();

  constructor(
    private readonly store: Store,
    private readonly metrics: EngineMetrics,
    private readonly log: Logger,
  ) {}

  register(reconciler: Reconciler, options: ControllerOptions): void {
    const listeners = this.finishedListeners;
    const finished = { wanted: () => listeners.size > 0, notify: (f: ReconcileFinished) => listeners.forEach((listener) => listener(f)) };
    this.controllers.set(reconciler.kind, new Controller(this.store, reconciler, this.metrics, this.log, { ...options, finished }));
  }

  /**
   * Calls `listener` after every reconcile of any kind that ran to its end (`kedge up --once` judges objects
   * by these). Returns unsubscribe.
   */
  onReconcileFinished(listener: (finished: ReconcileFinished) => void): () => void {
    this.finishedListeners.add(listener);
    return () => this.finishedListeners.delete(listener);
  }

  /** The kinds that have a controller, i.e. that get a Ready condition. */
  kinds(): string[] {
    return [...this.controllers.keys()];
  }

  async start(): Promise<void> {
    for (const controller of this.controllers.values()) await controller.start();
  }

  /** Queue an immediate reconcile; false when no controller owns the kind. */
  enqueue(ref: ObjectRef): boolean {
    const controller = this.controllers.get(ref.kind);
    controller?.enqueue(ref);
    return controller !== undefined;
  }

  async stop(graceMs?: number): Promise<void> {
    await Promise.all([...this.controllers.values()].map((c) => c.stop(graceMs)));
  }
}
