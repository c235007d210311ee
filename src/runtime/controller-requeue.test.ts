import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../../test/harness/eventually.ts';
import type { ObjectRef } from '../api/meta.ts';
import { openSqliteStore, type SqliteStore } from '../store/sqlite/sqlite-store.ts';
import { WaitingError } from './errors.ts';
import { createLogger } from './logger.ts';
import { Manager } from './manager.ts';
import { EngineMetrics } from './metrics.ts';
import type { ReconcileResult, Reconciler } from './reconciler.ts';

/** Reconciles ConfigMaps, counting each; `zero` asks for a requeue after 0 ms, `retry-zero` waits 0 ms. */
class CountingReconciler implements Reconciler {
  readonly kind = 'ConfigMap';
  readonly controllerName = 'test';
  readonly counts = new Map<string, number>();
  reconcile(ref: ObjectRef): Promise<ReconcileResult> {
    this.counts.set(ref.name, (this.counts.get(ref.name) ?? 0) + 1);
    if (ref.name === 'retry-zero') return Promise.reject(new WaitingError('Failed', 'failing', 0));
    return Promise.resolve({ requeueAfterMs: ref.name === 'zero' ? 0 : 3_600_000 });
  }
}

describe('controller requeue of zero durations', () => {
  let dir: string;
  let store: SqliteStore | undefined;
  let manager: Manager | undefined;
  afterEach(async () => {
    await manager?.stop(0);
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a zero interval is not a hot loop: the object is reconciled once, a zero retry backs off', async () => {
    dir = await mkdtemp(join(tmpdir(), 'kedge-requeue-'));
    store = await openSqliteStore(dir);
    const configMap = (name: string) => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name },
      data: {},
    });
    await store.apply(configMap('zero'));
    await store.apply(configMap('retry-zero'));
    const reconciler = new CountingReconciler();
    manager = new Manager(store, new EngineMetrics(), createLogger({ level: 'silent' }));
    manager.register(reconciler, { concurrency: 1 });
    await manager.start();
    await eventually(() => reconciler.counts.get('zero') === 1 && reconciler.counts.get('retry-zero') === 1, {
      what: 'first reconciles',
    });
    // Anything queued after them runs after any immediate requeue of theirs would have.
    for (let i = 0; i < 3; i++) {
      await store.apply(configMap(`marker-${i}`));
      await eventually(() => reconciler.counts.get(`marker-${i}`) === 1, { what: `marker ${i}` });
    }
    expect(reconciler.counts.get('zero')).toBe(1);
    // A hot loop would have run it thousands of times meanwhile; the backoff (750 ms doubling) needs minutes for 10.
    expect(reconciler.counts.get('retry-zero')).toBeLessThan(10);
  });
});
