import { createHash } from 'node:crypto';
import type { KedgeEvent } from '../../api/meta.ts';
import { KubeApiError } from '../../apply/errors.ts';
import type { KubeRest } from '../../apply/kube-rest.ts';
import type { EventFilter } from '../store.ts';

type NewEvent = Omit<KedgeEvent, 'id' | 'count' | 'firstTimestamp' | 'lastTimestamp'>;

/** `events.k8s.io/v1` Event, the fields Kedge writes and reads. */
interface KubeEvent {
  apiVersion: 'events.k8s.io/v1';
  kind: 'Event';
  metadata: {
    name: string;
    namespace: string;
    resourceVersion?: string;
    creationTimestamp?: string;
    annotations?: Record<string, string>;
  };
  /** Null on Events written through core/v1 by older recorders. */
  eventTime: string | null;
  deprecatedLastTimestamp?: string | null;
  series?: { count: number; lastObservedTime: string };
  reportingController: string;
  reportingInstance: string;
  action: string;
  reason: string;
  note: string;
  type: string;
  regarding: { apiVersion: string; kind: string; namespace: string; name: string; uid?: string };
}

/** An identical event seen again within this long is counted up (a series), as the Store interface says. */
const foldWindowMs = 60 * 60 * 1000;
/** Events remembered as written, for repeats without a read. */
const rememberedMax = 2000;
/** The API server caps `note` at 1 kB. */
const noteMax = 1024;

/**
 * Events as `events.k8s.io/v1` Events in the namespace of the object they regard, with the reporting
 * controller the caller names (Flux's: source-controller, kustomize-controller, notification-controller), so
 * `kubectl events` and `kubectl describe` show them. An identical event (same object, type, reason, message)
 * has one name — a hash of those — so a repeat within an hour, from this process or another, updates its
 * `series` (count, last observed time) instead of adding an Event. The last Event written of each name is
 * remembered: a new event costs one POST, a repeat one PUT; a conflict with another writer costs a read.
 */
export class KubeEventLog {
  /** Recording of one event name at a time in this process; others are caught by resourceVersion conflicts. */
  readonly #inFlight = new Map<string, Promise<void>>();
  /** The Events this process wrote last, by name (the most recent {@link rememberedMax}). */
  readonly #written = new Map<string, KubeEvent>();

  constructor(
    private readonly rest: KubeRest,
    private readonly reportingInstance: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  record(event: NewEvent): Promise<void> {
    const name = eventName(event);
    const previous = this.#inFlight.get(name) ?? Promise.resolve();
    const next = previous.then(() => this.#record(name, event));
    const settled = next.catch(() => undefined);
    this.#inFlight.set(name, settled);
    void settled.then(() => {
      if (this.#inFlight.get(name) === settled) this.#inFlight.delete(name);
    });
    return next;
  }

  async list(filter: EventFilter = {}, namespace: string | undefined): Promise<KedgeEvent[]> {
    const scope = filter.namespace ?? namespace;
    const path =
      scope === undefined
        ? '/apis/events.k8s.io/v1/events'
        : `/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(scope)}/events`;
    const fields = [
      filter.kind === undefined ? undefined : `regarding.kind=${filter.kind}`,
      filter.name === undefined ? undefined : `regarding.name=${filter.name}`,
    ].filter((f) => f !== undefined);
    const list = await this.rest.request<{ items?: KubeEvent[] }>('GET', path, {
      query: { fieldSelector: fields.length > 0 ? fields.join(',') : undefined },
    });
    return (list.items ?? [])
      .map(toKedgeEvent)
      .sort((a, b) => b.lastTimestamp.localeCompare(a.lastTimestamp))
      .slice(0, filter.limit ?? 100);
  }

  async #record(name: string, event: NewEvent): Promise<void> {
    const namespace = event.involvedObject.namespace || 'default';
    const collection = `/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/events`;
    const now = microTime(this.now());
    // As client-go's event correlator: what this process wrote last is the starting point, so a new event is
    // one POST and a repeat one PUT; only a conflict (another writer) costs a read.
    let current = this.#written.get(name);
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        if (current === undefined) {
          this.#remember(
            name,
            await this.rest.request<KubeEvent>('POST', collection, {
              body: this.#newEvent(name, namespace, event, now),
            }),
          );
          return;
        }
        if (this.now().getTime() - Date.parse(lastObserved(current)) < foldWindowMs) {
          const series = { count: (current.series?.count ?? 1) + 1, lastObservedTime: now };
          this.#remember(
            name,
            await this.rest.request<KubeEvent>('PUT', `${collection}/${name}`, {
              body: { ...current, series },
            }),
          );
          return;
        }
        // An old one of the same name: start over.
        await this.rest.request('DELETE', `${collection}/${name}`).catch(ignoreMissing);
        current = undefined;
      } catch (error) {
        // Created, changed or deleted by another writer (or by us before a restart): read what is there now.
        if (!(error instanceof KubeApiError && (error.code === 409 || error.code === 404))) throw error;
        this.#written.delete(name);
        current = await this.rest.request<KubeEvent>('GET', `${collection}/${name}`).catch(ignoreMissing);
      }
    }
    throw new Error(`event ${namespace}/${name} kept changing under concurrent writers; not recorded`);
  }

  #remember(name: string, written: KubeEvent): void {
    this.#written.delete(name);
    this.#written.set(name, written);
    if (this.#written.size > rememberedMax) this.#written.delete(this.#written.keys().next().value!);
  }

  #newEvent(name: string, namespace: string, event: NewEvent, now: string): KubeEvent {
    return {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name, namespace, ...(event.annotations ? { annotations: event.annotations } : {}) },
      eventTime: now,
      reportingController: event.reportingController,
      reportingInstance: this.reportingInstance,
      action: 'Reconcile',
      reason: event.reason,
      note: event.message.length > noteMax ? `${event.message.slice(0, noteMax - 3)}...` : event.message,
      type: event.type,
      regarding: { ...event.involvedObject, namespace },
    };
  }
}

/** `<object name>.<hash of object, type, reason, message>`: one Event per distinct event of an object. */
function eventName(event: NewEvent): string {
  const { kind, namespace, name } = event.involvedObject;
  const hash = createHash('sha256')
    .update(
      JSON.stringify([
        kind,
        namespace,
        name,
        event.type,
        event.reason,
        event.message,
        event.reportingController,
      ]),
    )
    .digest('hex')
    .slice(0, 16);
  return `${name.slice(0, 253 - 17)}.${hash}`;
}

function ignoreMissing(error: unknown): undefined {
  if (error instanceof KubeApiError && error.code === 404) return undefined;
  throw error;
}

function lastObserved(event: KubeEvent): string {
  return event.series?.lastObservedTime ?? firstObserved(event);
}

function firstObserved(event: KubeEvent): string {
  return event.eventTime ?? event.deprecatedLastTimestamp ?? event.metadata.creationTimestamp ?? '';
}

function toKedgeEvent(event: KubeEvent): KedgeEvent {
  return {
    type: event.type === 'Warning' ? 'Warning' : 'Normal',
    reason: event.reason,
    message: event.note,
    involvedObject: event.regarding,
    ...(event.metadata.annotations ? { annotations: event.metadata.annotations } : {}),
    reportingController: event.reportingController,
    firstTimestamp: firstObserved(event),
    lastTimestamp: lastObserved(event),
    count: event.series?.count ?? 1,
  };
}

/** A MicroTime: RFC 3339 with microseconds, as `eventTime` needs. */
function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
