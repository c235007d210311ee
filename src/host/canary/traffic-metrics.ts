import { Gauge, type Registry } from 'prom-client';
import type { HostRuntime } from '../host-runtime.ts';
import { LatencyHistogram } from './latency-histogram.ts';
import type { RevisionCounts } from './revision-stats.ts';

type Stats = Awaited<ReturnType<HostRuntime['allTrafficStats']>>;

/**
 * Per-revision traffic of every `http`-exposed App on `/metrics`, read from the forwarding thread once per
 * scrape: requests forwarded, 5xx answers (proxy failures included), success ratio and p99 latency since
 * the App's proxy started (`kedge_app_revision_*`, labels namespace, name, revision).
 */
export function registerTrafficMetrics(registry: Registry, runtime: HostRuntime): void {
  let pending: Promise<Stats> | undefined;
  // The four gauges collect concurrently: one read of the thread serves them all.
  const load = () =>
    (pending ??= runtime.allTrafficStats().finally(() => setImmediate(() => (pending = undefined))));
  const gauge = (name: string, help: string, value: (r: RevisionCounts) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['namespace', 'name', 'revision'],
      registers: [registry],
      async collect() {
        const stats = await load();
        this.reset();
        for (const { ref, revisions } of stats)
          for (const r of revisions)
            this.set({ namespace: ref.namespace, name: ref.name, revision: r.revision }, value(r));
      },
    });
  gauge(
    'kedge_app_revision_requests',
    'Requests the expose proxy forwarded to the revision since it started.',
    (r) => r.requests,
  );
  gauge(
    'kedge_app_revision_errors',
    'Answers of the revision that were 5xx or a proxy failure, since the proxy started.',
    (r) => r.errors,
  );
  gauge('kedge_app_revision_success_ratio', 'Share (0-1) of the revision answers that were not 5xx.', (r) =>
    r.requests === 0 ? 1 : (r.requests - r.errors) / r.requests,
  );
  gauge(
    'kedge_app_revision_latency_p99_seconds',
    'p99 latency of the revision answers as the proxy measured it (within 20 %).',
    (r) => LatencyHistogram.quantileMs(r.latency, 0.99) / 1000,
  );
}
