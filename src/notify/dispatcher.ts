import { AlertKind, type Alert } from '../api/alert.ts';
import type { KedgeEvent, ObjectRef } from '../api/meta.ts';
import { refString } from '../api/meta.ts';
import { NotificationGroup, NotificationReasons, ProviderKind, type Provider } from '../api/provider.ts';
import { errorMessage } from '../runtime/errors.ts';
import type { EventRecorder } from '../runtime/event-recorder.ts';
import type { Logger } from '../runtime/logger.ts';
import type { EngineMetrics } from '../runtime/metrics.ts';
import type { Store } from '../store/store.ts';
import { alertMatches, eventForAlert, needsLabels } from './alert-match.ts';
import { DeliveryError } from './delivery-error.ts';
import type { DeliveryHealth } from './delivery-health.ts';
import { DeliveryQueue, type DeliveryQueueOptions } from './delivery-queue.ts';
import { DuplicateFilter } from './duplicate-filter.ts';
import { apiGroup, toFluxEvent, type FluxEvent } from './flux-event.ts';
import { createNotifier } from './notifier-factory.ts';
import type { NotifierConfig } from './notifier.ts';
import { resolveNotifierConfig } from './provider-config.ts';
import { commitStatusFromExpr } from './commit-status.ts';
import { redact } from './scrub-url.ts';

/** The controller name on Provider events, as Flux's. */
export const NOTIFICATION_CONTROLLER = 'notification-controller';

export interface DispatcherDeps {
  store: Store;
  events: EventRecorder;
  metrics: EngineMetrics;
  log: Logger;
  health: DeliveryHealth;
  /** Reported as `reportingInstance` (Flux: the controller pod). */
  instance: string;
  queue?: DeliveryQueueOptions;
  /** Window in which repeats of one event are dropped. Default Flux's 5 minutes. */
  duplicateWindowMs?: number;
}

/**
 * Sends recorded events to the Providers of the Alerts that select them. Subscribed to the engine's
 * EventRecorder; never blocks it: matching runs in the background and deliveries go through one bounded
 * {@link DeliveryQueue} per Provider. Failures are counted (`kedge_notification_failures_total`), logged,
 * recorded as a Warning event on the Provider and kept in {@link DeliveryHealth} for status — all without
 * the token or the address.
 */
export class NotificationDispatcher {
  private readonly queues = new Map<string, DeliveryQueue>();
  private readonly inflight = new Set<Promise<void>>();
  private readonly duplicates: DuplicateFilter;
  private stopped = false;

  constructor(private readonly deps: DispatcherDeps) {
    this.duplicates = new DuplicateFilter(deps.duplicateWindowMs);
  }

  start(): void {
    this.deps.events.onEvent((event) => {
      if (this.stopped) return;
      const work = this.dispatch(event).catch((error: unknown) => this.deps.log.error({ err: error }, 'notification dispatch failed'));
      this.inflight.add(work);
      void work.finally(() => this.inflight.delete(work));
    });
  }

  /** Stops taking events, aborts deliveries in flight and drops what is queued. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.inflight]);
    await Promise.all([...this.queues.values()].map((q) => q.stop()));
  }

  private async dispatch(recorded: KedgeEvent): Promise<void> {
    // Events about the notification kinds themselves are never dispatched: a failing Provider must not alert about itself.
    if (apiGroup(recorded.involvedObject.apiVersion) === NotificationGroup) return;
    const event = toFluxEvent(recorded, this.deps.instance);
    if (!this.duplicates.admit(event)) return;
    const alerts = (await this.deps.store.list(AlertKind)) as Alert[];
    let labels: Record<string, string> | undefined;
    if (alerts.some(needsLabels)) {
      const o = event.involvedObject;
      labels = (await this.deps.store.get({ kind: o.kind, namespace: o.namespace, name: o.name }))?.metadata.labels;
    }
    for (const alert of alerts) {
      if (!alert.spec || !alertMatches(alert, event, labels)) continue;
      await this.deliver(alert, eventForAlert(alert, event));
    }
  }

  private async deliver(alert: Alert, event: FluxEvent): Promise<void> {
    const namespace = alert.metadata.namespace ?? 'default';
    const alertRef: ObjectRef = { kind: AlertKind, namespace, name: alert.metadata.name };
    const providerRef: ObjectRef = { kind: ProviderKind, namespace, name: alert.spec!.providerRef.name };
    const provider = (await this.deps.store.get(providerRef)) as Provider | undefined;
    if (!provider?.spec) {
      this.deps.health.record(alertRef, false, `Provider '${namespace}/${providerRef.name}' not found`);
      return;
    }
    if (provider.spec.suspend) return;
    let config: NotifierConfig | undefined;
    try {
      config = await resolveNotifierConfig(this.deps.store, provider);
      config.commitStatus = commitStatusFromExpr(provider, alert, event);
      config.alert = { namespace, name: alert.metadata.name, uid: alert.metadata.uid };
      const notifier = createNotifier(config);
      const queue = this.queueFor(providerRef);
      queue.push({
        send: (signal) => notifier.post(event, signal),
        done: (error) => void this.report(provider, providerRef, alertRef, event, config, error),
      });
    } catch (error) {
      const failure = error instanceof DeliveryError ? error : new DeliveryError(errorMessage(error), false);
      await this.report(provider, providerRef, alertRef, event, config, failure);
    }
  }

  private queueFor(ref: ObjectRef): DeliveryQueue {
    const key = refString(ref);
    let queue = this.queues.get(key);
    if (!queue) {
      queue = new DeliveryQueue(this.deps.queue);
      this.queues.set(key, queue);
    }
    return queue;
  }

  private async report(
    provider: Provider,
    providerRef: ObjectRef,
    alertRef: ObjectRef,
    event: FluxEvent,
    config: NotifierConfig | undefined,
    error: DeliveryError | undefined,
  ): Promise<void> {
    const { health, log, metrics, events } = this.deps;
    if (!error) {
      health.record(providerRef, true);
      health.record(alertRef, true);
      return;
    }
    const o = event.involvedObject;
    const secrets = [config?.token, config?.basicAuth?.password, config?.password, config?.address, config?.nats?.creds, config?.nats?.nkey];
    const message = redact(`failed to send notification for ${o.kind}/${o.namespace}/${o.name}: ${error.message}`, secrets);
    metrics.notificationFailures.inc({ namespace: providerRef.namespace, provider: providerRef.name, type: provider.spec!.type });
    log.warn({ provider: refString(providerRef), alert: refString(alertRef), status: error.statusCode }, message);
    health.record(providerRef, false, message);
    health.record(alertRef, false, message);
    if (!this.stopped) {
      await events.record(provider, 'Warning', NotificationReasons.NotificationFailed, message, { controller: NOTIFICATION_CONTROLLER });
    }
  }
}
