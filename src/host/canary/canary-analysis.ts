import type { CanaryCheckResult, CanaryStrategy } from '../../api/app-canary.ts';
import { parseDuration } from '../../api/duration.ts';
import { LatencyHistogram } from './latency-histogram.ts';
import type { RevisionCounts } from './revision-stats.ts';

type Analysis = NonNullable<CanaryStrategy['analysis']>;

/** What the webhooks are told: Flagger's payload shape (name, namespace, phase, metadata). */
export interface AnalysisSubject {
  name: string;
  namespace: string;
  phase: string;
  canaryRevision: string;
  stableRevision?: string;
  weight: number;
}

/**
 * One analysis of a canary: the success rate and p99 latency of its answers in `window` (what the proxy
 * measured since the last analysis), then every webhook (2xx passes) and the Prometheus query (its first
 * value must not exceed `max`). A window without canary requests passes the proxy checks (with weight 0 only
 * pinned test traffic reaches it); the value says so. Never throws: an unreachable webhook is a failed check.
 */
export async function analyseCanary(
  analysis: Analysis | undefined,
  window: RevisionCounts | undefined,
  subject: AnalysisSubject,
): Promise<CanaryCheckResult[]> {
  const results: CanaryCheckResult[] = [];
  const requests = window?.requests ?? 0;
  if (analysis?.successRate) {
    const min = analysis.successRate.min;
    if (requests === 0) results.push({ check: 'successRate', passed: true, value: 'no requests' });
    else {
      const rate = (100 * (requests - window!.errors)) / requests;
      results.push({
        check: 'successRate',
        passed: rate >= min,
        value: `${round(rate)}% of ${requests} requests (min ${min}%)`,
      });
    }
  }
  if (analysis?.latency) {
    const max = parseDuration(analysis.latency.p99Max);
    if (requests === 0) results.push({ check: 'latency', passed: true, value: 'no requests' });
    else {
      const p99 = LatencyHistogram.quantileMs(window!.latency, 0.99);
      results.push({
        check: 'latency',
        passed: p99 <= max,
        value: `p99 ${round(p99)}ms over ${requests} requests (max ${max}ms)`,
      });
    }
  }
  for (const hook of analysis?.webhooks ?? []) results.push(await callWebhook(hook, subject));
  if (analysis?.prometheus) results.push(await queryPrometheus(analysis.prometheus));
  return results;
}

async function callWebhook(
  hook: NonNullable<Analysis['webhooks']>[number],
  subject: AnalysisSubject,
): Promise<CanaryCheckResult> {
  const check = `webhook ${hook.name}`;
  const body = {
    name: subject.name,
    namespace: subject.namespace,
    phase: subject.phase,
    checksum: subject.canaryRevision,
    metadata: {
      canaryRevision: subject.canaryRevision,
      stableRevision: subject.stableRevision ?? '',
      weight: String(subject.weight),
    },
  };
  try {
    const answer = await fetch(hook.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(parseDuration(hook.timeout ?? '10s')),
    });
    await answer.body?.cancel();
    return { check, passed: answer.ok, value: `HTTP ${answer.status}` };
  } catch (error) {
    return { check, passed: false, value: `no answer: ${describe(error)}` };
  }
}

async function queryPrometheus(prometheus: NonNullable<Analysis['prometheus']>): Promise<CanaryCheckResult> {
  const url = new URL('/api/v1/query', prometheus.address);
  url.searchParams.set('query', prometheus.query);
  try {
    const answer = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    if (!answer.ok) return { check: 'prometheus', passed: false, value: `HTTP ${answer.status}` };
    const json = (await answer.json()) as { data?: { result?: Array<{ value?: [number, string] }> } };
    const raw = json.data?.result?.[0]?.value?.[1];
    const value = raw === undefined ? NaN : Number(raw);
    if (Number.isNaN(value))
      return { check: 'prometheus', passed: false, value: 'the query returned no value' };
    return {
      check: 'prometheus',
      passed: value <= prometheus.max,
      value: `${value} (max ${prometheus.max})`,
    };
  } catch (error) {
    return { check: 'prometheus', passed: false, value: `no answer: ${describe(error)}` };
  }
}

function describe(error: unknown): string {
  const e = error as Error & { cause?: { code?: string } };
  return e.cause?.code ?? e.message;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
