import type { App } from '../../api/app.ts';
import type { KObject } from '../../api/meta.ts';

type Column = { header: string; value: (o: KObject) => string };

const canaryOf = (o: KObject) => (o as App).status?.canary;

/**
 * `kedge get app -o wide`: the canary (phase, step, weight, stable and canary revisions) and, per revision,
 * what the expose proxy measured (success rate, p99 latency, requests) as of the canary's last analysis.
 */
export const appCanaryColumns: Column[] = [
  {
    header: 'CANARY',
    value: (o) => {
      const c = canaryOf(o);
      return c ? `${c.phase} step ${c.currentStep} weight ${c.weight}%` : '';
    },
  },
  { header: 'STABLE', value: (o) => short(canaryOf(o)?.stableRevision) },
  { header: 'CANARY-REVISION', value: (o) => short(canaryOf(o)?.canaryRevision) },
  {
    header: 'TRAFFIC',
    value: (o) =>
      (canaryOf(o)?.traffic ?? [])
        .map((t) => `${short(t.revision)}: ${t.successRate}% ok, p99 ${t.p99Ms}ms, ${t.requests} req`)
        .join('; '),
  },
];

/** `main@sha1:0123456789ab…` → `main@sha1:0123456`. */
function short(revision: string | undefined): string {
  if (!revision) return '';
  const m = /^(.*@sha1:)([0-9a-f]{7})[0-9a-f]*$/.exec(revision);
  return m ? `${m[1]}${m[2]}` : revision;
}
