import type { KObject, KedgeEvent } from '../api/meta.ts';
import type { Store } from '../store/store.ts';
import type { Logger } from './logger.ts';

export type EventListener = (event: KedgeEvent) => void;

/** Object annotations under this prefix travel with every event about the object (e.g. `change_request`), as Flux's recorder does. */
export const EVENT_ANNOTATION_PREFIX = 'event.toolkit.fluxcd.io/';

/** The object's `event.toolkit.fluxcd.io/*` annotations, overridden by the event's own. */
function eventAnnotations(object: KObject, own: Record<string, string> | undefined): Record<string, string> | undefined {
  const fromObject = Object.entries(object.metadata.annotations ?? {}).filter(([key]) => key.startsWith(EVENT_ANNOTATION_PREFIX));
  if (fromObject.length === 0) return own;
  return { ...Object.fromEntries(fromObject), ...own };
}

/**
 * Records events about objects as Flux's controllers emit them: into the store (for `kedge events`), the log,
 * and to listeners (notifications). Recording never fails a reconcile.
 */
export class EventRecorder {
  private readonly listeners: EventListener[] = [];

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
  ) {}

  onEvent(listener: EventListener): void {
    this.listeners.push(listener);
  }

  async record(
    object: KObject,
    type: KedgeEvent['type'],
    reason: string,
    message: string,
    options: { controller: string; annotations?: Record<string, string> },
  ): Promise<void> {
    const now = new Date().toISOString();
    const event: KedgeEvent = {
      type,
      reason,
      message,
      involvedObject: {
        apiVersion: object.apiVersion,
        kind: object.kind,
        namespace: object.metadata.namespace ?? 'default',
        name: object.metadata.name,
        uid: object.metadata.uid,
      },
      annotations: eventAnnotations(object, options.annotations),
      reportingController: options.controller,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    const fields = { kind: object.kind, name: event.involvedObject.name, namespace: event.involvedObject.namespace, reason };
    if (type === 'Warning') this.log.warn(fields, message);
    else this.log.info(fields, message);
    try {
      await this.store.recordEvent(event);
    } catch (error) {
      this.log.error({ ...fields, err: error }, 'failed to record event');
    }
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.log.error({ ...fields, err: error }, 'event listener failed');
      }
    }
  }
}
