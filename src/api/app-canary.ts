import { z } from 'zod';
import { DURATION_PATTERN } from './duration.ts';

const duration = z.string().regex(DURATION_PATTERN, 'must be a duration such as 30s, 500ms or 1m');
const headerName = z.string().regex(/^[A-Za-z0-9-]+$/, 'must be an HTTP header name');

/** One canary step: a traffic weight for the new revision, or a pause (a duration, or `{}`: until promoted). */
const canaryStep = z
  .strictObject({
    setWeight: z.number().int().min(0).max(100).optional(),
    pause: z.strictObject({ duration: duration.optional() }).optional(),
  })
  .refine(
    (s) => (s.setWeight !== undefined ? 1 : 0) + (s.pause ? 1 : 0) === 1,
    'must set exactly one of setWeight and pause',
  );

const webhook = z.strictObject({
  name: z.string().min(1),
  url: z.url({ protocol: /^https?$/, error: 'must be an http or https URL' }),
  /** Default 10s. */
  timeout: duration.optional(),
});

/**
 * `spec.strategy.canary`: progressive delivery on the host runtime. The new revision runs `canaryReplicas`
 * replicas of its own next to the untouched stable ones; the expose proxy sends it the step's weight of the
 * requests; every `analysis.interval` its success rate and p99 latency (measured by the proxy), the webhooks
 * and the Prometheus query are checked; a step advances only after a passing check; `failureLimit` failed
 * checks roll it back. After the last step the normal rolling update replaces the stable replicas.
 */
export const canaryStrategySchema = z.strictObject({
  steps: z.array(canaryStep).min(1, 'must list at least one step'),
  /** Replicas of the new revision during the analysis. Default 1. */
  canaryReplicas: z.number().int().min(1).optional(),
  analysis: z
    .strictObject({
      /** Default 30s. */
      interval: duration.optional(),
      /** Failed checks before the rollback. Default 2. */
      failureLimit: z.number().int().min(1).optional(),
      /** Minimum % of canary answers that are not 5xx (or a proxy failure). */
      successRate: z.strictObject({ min: z.number().min(0).max(100) }).optional(),
      /** Maximum p99 latency of the canary's answers. */
      latency: z.strictObject({ p99Max: duration }).optional(),
      webhooks: z.array(webhook).optional(),
      /** A PromQL query whose first value must not exceed `max`. */
      prometheus: z
        .strictObject({ address: z.url({ protocol: /^https?$/ }), query: z.string().min(1), max: z.number() })
        .optional(),
    })
    .optional(),
  /**
   * Pinning. `header`: requests carrying `name: value` always go to the canary (test traffic, blue/green).
   * `cookie`: a client's first answer sets the cookie to the side it was sent to; later requests stay there.
   */
  routing: z
    .strictObject({
      header: z.strictObject({ name: headerName, value: z.string().min(1) }).optional(),
      cookie: z
        .strictObject({ name: z.string().regex(/^[A-Za-z0-9_-]+$/, 'must be a cookie name') })
        .optional(),
    })
    .optional(),
});

export type CanaryStrategy = z.infer<typeof canaryStrategySchema>;
export type CanaryStep = CanaryStrategy['steps'][number];

/** Flagger's phases: Progressing (steps), Promoting (rolling replacement), Succeeded, Failed (rolled back). */
export type CanaryPhase = 'Progressing' | 'Promoting' | 'Succeeded' | 'Failed';

/** One analysis check's outcome, as status shows it. */
export interface CanaryCheckResult {
  /** `successRate`, `latency`, `webhook <name>`, `prometheus`. */
  check: string;
  passed: boolean;
  /** What was measured, e.g. `96.2% (1204 requests)`, `p99 812ms`, `HTTP 503`. */
  value: string;
}

/** Requests the proxy forwarded to one revision: counts and latency. */
export interface RevisionTraffic {
  revision: string;
  requests: number;
  /** % of answers that were not 5xx (proxy failures count as 5xx); 100 without requests. */
  successRate: number;
  /** Milliseconds (upper bound of the histogram bucket); 0 without requests. */
  p99Ms: number;
}

/** `status.canary`: where the canary stands; enough for a restarted engine to resume at the recorded step. */
export interface CanaryStatus {
  phase: CanaryPhase;
  /** The template hash of the new revision's replicas: a different one restarts the analysis. */
  templateHash: string;
  stableRevision?: string;
  canaryRevision: string;
  /** Index into `steps` (equal to its length once every step passed). */
  currentStep: number;
  /** % of requests sent to the canary now. */
  weight: number;
  /** When the current step began (RFC 3339). */
  stepStartedAt: string;
  /** When the last analysis ran (RFC 3339). */
  lastAnalysisAt?: string;
  failedChecks: number;
  /** The checks of the last analysis. */
  lastAnalysis?: CanaryCheckResult[];
  /** The promote / abort annotation values already acted on. */
  handledPromote?: string;
  handledAbort?: string;
  message?: string;
  /** Per revision, what the proxy measured over the canary so far. */
  traffic?: RevisionTraffic[];
}

/** `kedge promote app NAME` sets this annotation (a fresh token): the remaining steps are skipped. */
export const CanaryPromoteAnnotation = 'kedge.dev/promote-requested-at';
/** `kedge abort app NAME` sets this annotation (a fresh token): the canary is rolled back by hand. */
export const CanaryAbortAnnotation = 'kedge.dev/abort-requested-at';
