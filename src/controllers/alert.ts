import { Reasons } from '../api/conditions.ts';
import { AlertKind, type Alert } from '../api/alert.ts';
import type { ObjectRef } from '../api/meta.ts';
import { NotificationConditions, NotificationReasons, ProviderKind } from '../api/provider.ts';
import type { ConditionSet } from '../runtime/conditions.ts';
import { StallingError } from '../runtime/errors.ts';
import type { ReconcileContext, ReconcileResult, Reconciler, RelatedWatch } from '../runtime/reconciler.ts';
import { referrersWatch } from '../runtime/referrers-watch.ts';
import type { DeliveryHealth } from '../notify/delivery-health.ts';
import { NOTIFICATION_CONTROLLER } from '../notify/dispatcher.ts';
import type { Store } from '../store/store.ts';
import { reconcileLastDelivery } from './notification/last-delivery.ts';
import { runNotificationReconcile } from './notification/notification-run.ts';

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
    this.watches = [referrersWatch<Alert>(deps.store, AlertKind, ProviderKind, (a, name) => a.spec?.providerRef.name === name)];
  }

  async reconcile(ref: ObjectRef, _context: ReconcileContext): Promise<ReconcileResult> {
    const object = (await this.deps.store.get(ref)) as Alert | undefined;
    if (!object) {
      this.deps.health.forget(ref);
      return {};
    }
    await runNotificationReconcile(this.deps.store, ref, object, READY_SUMMARY, async (run) => {
      await this.reconcileProviderRef(object, ref, run.conditions);
      reconcileLastDelivery(this.deps.health, ref, run.conditions);
    });
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
