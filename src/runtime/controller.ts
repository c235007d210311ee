import type { KObject, ObjectRef } from '../api/meta.ts';
import { refOf, refString } from '../api/meta.ts';
import type { Store, WatchEvent } from '../store/store.ts';
import { Backoff, withJitter } from './backoff.ts';
import { StallingError, WaitingError, errorMessage } from './errors.ts';
import type { Logger } from './logger.ts';
import type { EngineMetrics } from './metrics.ts';
import { isSuspended, type Reconciler } from './reconciler.ts';
import { WorkQueue } from './work-queue.ts';

export interface ControllerOptions {
  /** Reconciles of this kind running at once (different objects; never two of one object). */
  concurrency: number;
  backoff?: Backoff;
  /** Told of every reconcile that ran to its end (see {@link ReconcileFinished}) while `wanted()`. */
  finished?: { wanted(): boolean; notify(finished: ReconcileFinished): void };
}

/**
 * One reconcile that ran to its end, successful or not (not a skipped suspended object, not one aborted by a
 * stop): the object as the reconcile began and as it left it, read before the next reconcile of it can begin,
 * so `after.status` is exactly what this reconcile wrote last.
 */
export interface ReconcileFinished {
  ref: ObjectRef;
  /** The object when the reconcile began. */
  before: KObject;
  /** The object right after it; undefined once it was deleted. */
  after: KObject | undefined;
}

/**
 * Runs one reconciler: watches its kind in the store, queues keys (level-triggered: only the key, never the
 * event), runs up to `concurrency` reconciles at once, requeues at the returned interval with jitter, backs
 * off exponentially on errors, skips suspended objects, and stops gracefully.
 */
export class Controller {
  private readonly queue = new WorkQueue();
  private readonly backoff: Backoff;
  private readonly seen = new Map<string, string>();
  private readonly refs = new Map<string, ObjectRef>();
  private readonly unwatch: Array<() => void> = [];
  private readonly workers: Array<Promise<void>> = [];
  private readonly abort = new AbortController();
  private readonly log: Logger;

  constructor(
    private readonly store: Store,
    private readonly reconciler: Reconciler,
    private readonly metrics: EngineMetrics,
    log: Logger,
    private readonly options: ControllerOptions,
  ) {
    this.backoff = options.backoff ?? new Backoff();
    this.log = log.child({ controller: reconciler.controllerName, kind: reconciler.kind });
  }

  get kind(): string {
    return this.reconciler.kind;
  }

  /** Subscribes to changes, queues every existing object once, starts the workers. */
  async start(): Promise<void> {
    this.unwatch.push(this.store.watch(this.kind, (event) => this.onOwnEvent(event)));
    for (const watch of this.reconciler.watches ?? []) {
      this.unwatch.push(
        this.store.watch(watch.kind, (event) => {
          void Promise.resolve(watch.map(event)).then(
            (refs) => refs.forEach((ref) => this.enqueue(ref)),
            (error: unknown) => this.log.error({ err: error }, `mapping a ${watch.kind} change failed`),
          );
        }),
      );
    }
    for (const object of await this.store.list(this.kind)) {
      this.seen.set(refString(refOf(object)), fingerprint(object));
      this.enqueue(refOf(object));
    }
    for (let i = 0; i < this.options.concurrency; i++) this.workers.push(this.work());
  }

  /** Queue a reconcile of `ref` now (e.g. a webhook or a CLI request). */
  enqueue(ref: ObjectRef): void {
    const key = refString(ref);
    this.refs.set(key, ref);
    this.queue.add(key);
    this.metrics.queueDepth.set({ kind: this.kind }, this.queue.length);
  }

  /** Stops taking work; in-flight reconciles get `graceMs` to finish, then their signal aborts. */
  async stop(graceMs = 10_000): Promise<void> {
    for (const u of this.unwatch.splice(0)) u();
    this.queue.shutDown();
    const timer = setTimeout(() => this.abort.abort(new Error('engine shutting down')), graceMs);
    await Promise.all(this.workers);
    clearTimeout(timer);
  }

  private onOwnEvent(event: WatchEvent): void {
    const ref = refOf(event.object);
    const key = refString(ref);
    if (event.type === 'DELETED') {
      this.seen.delete(key);
      this.enqueue(ref);
      return;
    }
    // Status-only writes (our own, mostly) do not trigger a reconcile: only spec, metadata and deletion do.
    const print = fingerprint(event.object);
    if (this.seen.get(key) === print) return;
    this.seen.set(key, print);
    this.enqueue(ref);
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      this.metrics.queueDepth.set({ kind: this.kind }, this.queue.length);
      try {
        await this.reconcileKey(key);
      } finally {
        this.queue.done(key);
      }
    }
  }

  private async reconcileKey(key: string): Promise<void> {
    const ref = this.refs.get(key);
    if (!ref) return;
    const labels = { kind: ref.kind, name: ref.name, namespace: ref.namespace };
    const log = this.log.child({ name: ref.name, namespace: ref.namespace });
    const object = await this.store.get(ref).catch(() => undefined);
    this.metrics.suspendStatus.set(labels, isSuspended(object) ? 1 : 0);
    if (isSuspended(object) && !object?.metadata.deletionTimestamp) {
      log.debug('suspended, skipping');
      return;
    }
    const end = this.metrics.reconcileDuration.startTimer(labels);
    let finished = false;
    try {
      const result = await this.reconciler.reconcile(ref, { signal: this.abort.signal, log });
      finished = true;
      this.backoff.forget(key);
      this.metrics.reconciles.inc({ kind: ref.kind, result: 'success' });
      // As controller-runtime's RequeueAfter: zero (an object stored before zero intervals were refused) means no
      // periodic requeue, never a reconcile straight after this one.
      if (result.requeueAfterMs !== undefined && result.requeueAfterMs > 0) this.queue.addAfter(key, withJitter(result.requeueAfterMs));
    } catch (error) {
      if (this.abort.signal.aborted) return;
      finished = true;
      if (error instanceof StallingError) {
        this.backoff.forget(key);
        this.metrics.reconciles.inc({ kind: ref.kind, result: 'stalled' });
        log.warn({ reason: error.reason }, `stalled: ${error.message}`);
      } else if (error instanceof WaitingError) {
        this.metrics.reconciles.inc({ kind: ref.kind, result: 'waiting' });
        // A zero retry (retryInterval: 0s) falls back to the exponential backoff instead of a hot loop.
        this.queue.addAfter(key, error.retryAfterMs > 0 ? error.retryAfterMs : this.backoff.next(key));
      } else {
        const delay = this.backoff.next(key);
        this.metrics.reconciles.inc({ kind: ref.kind, result: 'error' });
        log.error({ retryInMs: delay }, `reconcile failed: ${errorMessage(error)}`);
        this.queue.addAfter(key, delay);
      }
    } finally {
      end();
    }
    if (finished && object && this.options.finished?.wanted()) {
      const after = await this.store.get(ref).catch(() => undefined);
      this.options.finished.notify({ ref, before: object, after });
    }
  }
}

/** What makes a change worth a reconcile: desired state (generation), metadata, deletion. */
function fingerprint(object: KObject): string {
  const m = object.metadata;
  return JSON.stringify([m.generation, m.labels ?? {}, m.annotations ?? {}, m.deletionTimestamp ?? null, m.finalizers ?? []]);
}
