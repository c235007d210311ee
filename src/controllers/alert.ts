import { ReconcileRequestAnnotation, Reasons } from '../api/conditions.ts';
import { AlertKind, type Alert, type AlertStatus } from '../api/alert.ts';
import type { ObjectRef } from '../api/meta.ts';
import { NotificationConditions, NotificationReasons, ProviderKind } from '../api/provider.ts';
import { ConditionSet } from '../runtime/conditions.ts';
import { StallingError } from '../runtime/errors.ts';
import type { ReconcileContext, ReconcileResult, Reconciler, RelatedWatch } from '../runtime/reconciler.ts';
import { summarizeConditions } from '../runtime/summarize.ts';
import type { DeliveryHealth } from '../notify/delivery-health.ts';
import { NOTIFICATION_CONTROLLER } from '../notify/dispatcher.ts';
import type { Store } from '../store/store.ts';

const READY_SUMMARY = {
  negative: [NotificationConditions.DeliveryFailed],
  positive: [NotificationConditions.Validated],
} as const;

export interface AlertReconcilerDeps {
  store: Store;
  health: DeliveryHealth;
}

/**
 * Reconciles `notification.toolkit.fluxcd.io/v1beta3` Alert: its Provider must exist (Validated; the
 * Provider kind is watched so creating it clears the error), and the last delivery for it is reported
 * (DeliveryFailed). Matching and sending events is the dispatcher's job, not this reconciler's.
 */
export class AlertReconciler implements Reconciler {
  readonly kind = AlertKind;
  readonly controllerName = NOTIFICATION_CONTROLLER;
  readonly watches: RelatedWatch[];

  constructor(private readonly deps: AlertReconcilerDeps) {
    this.watches = [
      {
        kind: ProviderKind,
        map: async ({ object }) => {
          const alerts = (await deps.store.list(AlertKind, { namespace: object.metadata.namespace })) as Alert[];
          return alerts
            .filter((a) => a.spec?.providerRef.name === object.metadata.name)
            .map((a) => ({ kind: AlertKind, namespace: a.metadata.namespace ?? 'default', name: a.metadata.name }));
        },
      },
    ];
  }

  async reconcile(ref: ObjectRef, _context: ReconcileContext): Promise<ReconcileResult> {
    const object = (await this.deps.store.get(ref)) as Alert | undefined;
    if (!object) {
      this.deps.health.forget(ref);
      return {};
    }
    const status: AlertStatus = structuredClone(object.status ?? {});
    const conditions = new ConditionSet(status.conditions, object.metadata.generation ?? 1);
    let outcome: Error | undefined;
    try {
      await this.reconcileProviderRef(object, ref, conditions);
      const last = this.deps.health.get(ref);
      if (last && !last.ok) conditions.mark(NotificationConditions.DeliveryFailed, 'True', NotificationReasons.NotificationFailed, last.message);
      else conditions.delete(NotificationConditions.DeliveryFailed);
    } catch (error) {
      outcome = error instanceof Error ? error : new Error(String(error));
    }
    summarizeConditions(conditions, READY_SUMMARY, outcome);
    if (outcome === undefined) status.observedGeneration = object.metadata.generation;
    const requested = object.metadata.annotations?.[ReconcileRequestAnnotation];
    if (requested !== undefined) status.lastHandledReconcileAt = requested;
    status.conditions = conditions.toArray();
    await this.deps.store.updateStatus(ref, status);
    if (outcome !== undefined) throw outcome;
    return {};
  }

  private async reconcileProviderRef(object: Alert, ref: ObjectRef, conditions: ConditionSet): Promise<void> {
    const name = object.spec!.providerRef.name;
    const provider = await this.deps.store.get({ kind: ProviderKind, namespace: ref.namespace, name });
    if (!provider) {
      const message = `Provider '${ref.namespace}/${name}' not found`;
      conditions.mark(NotificationConditions.Validated, 'False', NotificationReasons.ProviderNotFound, message);
      throw new StallingError(NotificationReasons.ProviderNotFound, message);
    }
    conditions.mark(NotificationConditions.Validated, 'True', Reasons.Succeeded, NotificationReasons.Initialized);
  }
}
