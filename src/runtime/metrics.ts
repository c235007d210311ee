import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The engine's Prometheus metrics. Flux's names where Flux has one (`gotk_*`), so existing dashboards work;
 * Kedge's own under `kedge_*`. One instance per engine (its own registry, never the global one).
 */
export class EngineMetrics {
  readonly registry = new Registry();

  /** Flux: duration of each reconcile. */
  readonly reconcileDuration = new Histogram({
    name: 'gotk_reconcile_duration_seconds',
    help: 'The duration in seconds of a GitOps Toolkit resource reconciliation.',
    labelNames: ['kind', 'name', 'namespace'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });

  /** Flux: 1 when the object is suspended. */
  readonly suspendStatus = new Gauge({
    name: 'gotk_suspend_status',
    help: 'The current suspend status of a GitOps Toolkit resource.',
    labelNames: ['kind', 'name', 'namespace'],
    registers: [this.registry],
  });

  readonly reconciles = new Counter({
    name: 'kedge_reconcile_total',
    help: 'Reconciles by kind and result (success, error, stalled, waiting).',
    labelNames: ['kind', 'result'],
    registers: [this.registry],
  });

  readonly queueDepth = new Gauge({
    name: 'kedge_workqueue_depth',
    help: 'Objects waiting to be reconciled now, by kind.',
    labelNames: ['kind'],
    registers: [this.registry],
  });

  readonly gitFetchDuration = new Histogram({
    name: 'kedge_git_fetch_duration_seconds',
    help: 'Duration of git operations against remotes, by operation (ls-remote, checkout) and result.',
    labelNames: ['operation', 'result'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  readonly bucketFetchDuration = new Histogram({
    name: 'kedge_bucket_fetch_duration_seconds',
    help: 'Duration of Bucket operations against object storage, by operation (list, download) and result.',
    labelNames: ['operation', 'result'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  readonly helmFetchDuration = new Histogram({
    name: 'kedge_helm_fetch_duration_seconds',
    help: 'Duration of Helm repository operations (index, chart download, OCI pull, package), by operation and result.',
    labelNames: ['operation', 'result'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  /** Notifications that could not be delivered (after retries), by Provider and type. */
  readonly notificationFailures = new Counter({
    name: 'kedge_notification_failures_total',
    help: 'Notifications that could not be delivered after retries, by provider namespace, name and type.',
    labelNames: ['namespace', 'provider', 'type'],
    registers: [this.registry],
  });

  /** client-go's leader election metric: 1 while this instance holds the lease `name`, else 0 (only with leader election). */
  readonly leaderStatus = new Gauge({
    name: 'leader_election_master_status',
    help: 'Whether this instance holds the leader election lease named by the label (1) or follows (0).',
    labelNames: ['name'],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
