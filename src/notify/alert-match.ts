import type { Alert } from '../api/alert.ts';
import type { FluxEvent } from './flux-event.ts';

/** True when some event source names the event's object and its labels match (Flux: matchLabels only with name `*`). */
export function matchesSources(alert: Alert, event: FluxEvent, objectLabels: Record<string, string> | undefined): boolean {
  const o = event.involvedObject;
  const alertNamespace = alert.metadata.namespace ?? 'default';
  return alert.spec!.eventSources.some((source) => {
    if (source.kind !== o.kind || (source.namespace ?? alertNamespace) !== o.namespace) return false;
    if (source.name !== '*') return source.name === o.name;
    return Object.entries(source.matchLabels ?? {}).every(([k, v]) => objectLabels?.[k] === v);
  });
}

/** Whether an Alert needs the involved object's labels to decide (a `*` source with matchLabels). */
export function needsLabels(alert: Alert): boolean {
  return alert.spec!.eventSources.some((s) => s.name === '*' && Object.keys(s.matchLabels ?? {}).length > 0);
}

/**
 * Flux's alert filter: not suspended; `eventSeverity: error` takes only errors (`info`, the default, takes
 * both); a source matches; the message matches an inclusionList regex (when any) and no exclusionList regex
 * (exclusion wins).
 */
export function alertMatches(alert: Alert, event: FluxEvent, objectLabels?: Record<string, string>): boolean {
  const spec = alert.spec!;
  if (spec.suspend) return false;
  if ((spec.eventSeverity ?? 'info') === 'error' && event.severity !== 'error') return false;
  if (!matchesSources(alert, event, objectLabels)) return false;
  const test = (pattern: string) => new RegExp(pattern).test(event.message);
  if (spec.inclusionList?.length && !spec.inclusionList.some(test)) return false;
  if (spec.exclusionList?.some(test)) return false;
  return true;
}

/** The event as this Alert sends it: its eventMetadata and summary added, the event's own keys kept. */
export function eventForAlert(alert: Alert, event: FluxEvent): FluxEvent {
  const extra: Record<string, string> = { ...alert.spec!.eventMetadata };
  if (alert.spec!.summary) extra.summary = alert.spec!.summary;
  if (Object.keys(extra).length === 0) return event;
  return { ...event, metadata: { ...extra, ...event.metadata } };
}
