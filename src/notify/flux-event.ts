import type { KedgeEvent } from '../api/meta.ts';

/** Severity as Flux's events carry it: Normal events are `info`, Warning events `error`. */
export type Severity = 'info' | 'error';

/**
 * An event exactly as Flux's controllers post it to notification-controller and as the `generic` provider
 * forwards it (`eventv1.Event`): the JSON field names and shapes are part of the compatibility contract.
 */
export interface FluxEvent {
  involvedObject: { kind: string; namespace: string; name: string; uid?: string; apiVersion: string; resourceVersion?: string };
  severity: Severity;
  /** RFC 3339. */
  timestamp: string;
  message: string;
  reason: string;
  /** Keys as Flux sends them, e.g. `source.toolkit.fluxcd.io/revision`, plus an Alert's eventMetadata. */
  metadata?: Record<string, string>;
  reportingController: string;
  reportingInstance?: string;
}

/** The Flux event for a recorded Kedge event; `instance` names this engine (Flux: the pod name). */
export function toFluxEvent(event: KedgeEvent, instance: string): FluxEvent {
  const { uid, ...object } = event.involvedObject;
  return {
    involvedObject: uid ? { ...object, uid } : object,
    severity: event.type === 'Warning' ? 'error' : 'info',
    timestamp: new Date(event.lastTimestamp).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    message: event.message,
    reason: event.reason,
    ...(event.annotations && Object.keys(event.annotations).length > 0 ? { metadata: { ...event.annotations } } : {}),
    reportingController: event.reportingController,
    reportingInstance: instance,
  };
}

/** The group of an apiVersion (`source.toolkit.fluxcd.io/v1` → `source.toolkit.fluxcd.io`). */
export function apiGroup(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/** The revision the event is about (`<group>/revision` metadata, or plain `revision`), if any. */
export function eventRevision(event: FluxEvent): string | undefined {
  const metadata = event.metadata ?? {};
  return metadata[`${apiGroup(event.involvedObject.apiVersion)}/revision`] ?? metadata.revision;
}

/** `Kind/name.namespace`, how Flux's chat providers title an event. */
export function eventTitle(event: FluxEvent): string {
  const o = event.involvedObject;
  return `${o.kind.toLowerCase()}/${o.name}.${o.namespace}`;
}
