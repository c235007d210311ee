import { LatencyHistogram } from './latency-histogram.ts';

/** What the proxy measured for one revision: answers, 5xx answers (proxy failures included) and latency. */
export interface RevisionCounts {
  revision: string;
  requests: number;
  errors: number;
  /** Per latency bucket (see latency-histogram.ts), so that windows can be added and percentiles taken. */
  latency: number[];
}

class Counts {
  requests = 0;
  errors = 0;
  latency = new LatencyHistogram();

  add(failed: boolean, ms: number): void {
    this.requests++;
    if (failed) this.errors++;
    this.latency.record(ms);
  }

  view(revision: string): RevisionCounts {
    return { revision, requests: this.requests, errors: this.errors, latency: [...this.latency.counts] };
  }
}

/**
 * Per-revision request counts of one expose proxy, kept where requests are forwarded: totals since the
 * proxy started (for `/metrics`) and a window that {@link takeWindow} reads and starts over (for a canary's
 * analysis). Recording is a map lookup and a few increments.
 */
export class RevisionStats {
  private revisionOf = new Map<number, string>();
  private readonly totals = new Map<string, Counts>();
  private window = new Map<string, Counts>();

  /** Which revision each backend port serves (ports without one are not counted). */
  label(revisions: Readonly<Record<number, string>>): void {
    this.revisionOf = new Map(Object.entries(revisions).map(([port, revision]) => [Number(port), revision]));
  }

  record(port: number, status: number, ms: number): void {
    const revision = this.revisionOf.get(port);
    if (revision === undefined) return;
    const failed = status >= 500;
    counts(this.totals, revision).add(failed, ms);
    counts(this.window, revision).add(failed, ms);
  }

  totalsView(): RevisionCounts[] {
    return [...this.totals].map(([revision, c]) => c.view(revision));
  }

  /** The counts since the last call (or since the proxy started), then a new window. */
  takeWindow(): RevisionCounts[] {
    const taken = [...this.window].map(([revision, c]) => c.view(revision));
    this.window = new Map();
    return taken;
  }
}

function counts(map: Map<string, Counts>, revision: string): Counts {
  let c = map.get(revision);
  if (!c) map.set(revision, (c = new Counts()));
  return c;
}
