import { Reasons } from '../api/conditions.ts';
import type { ObjectRef } from '../api/meta.ts';
import { NotificationConditions, NotificationReasons, ProviderKind, type Provider } from '../api/provider.ts';
import type { ConditionSet } from '../runtime/conditions.ts';
import { ReconcileError, StallingError, errorMessage } from '../runtime/errors.ts';
import type { ReconcileContext, ReconcileResult, Reconciler, RelatedWatch } from '../runtime/reconciler.ts';
import { referrersWatch } from '../runtime/referrers-watch.ts';
import type { DeliveryHealth } from '../notify/delivery-health.ts';
import { NOTIFICATION_CONTROLLER } from '../notify/dispatcher.ts';
import { createNotifier } from '../notify/notifier-factory.ts';
import { ProviderConfigError, resolveNotifierConfig } from '../notify/provider-config.ts';
import type { Store } from '../store/store.ts';
import { reconcileLastDelivery } from './notification/last-delivery.ts';
import { runNotificationReconcile } from './notification/notification-run.ts';

const READY_SUMMARY = {
  negative: [NotificationConditions.DeliveryFailed],
  positive: [NotificationConditions.Validated],
} as const;

export interface ProviderReconcilerDeps {
  store: Store;
  health: DeliveryHealth;
}

/**
 * Reconciles `notification.toolkit.fluxcd.io/v1beta3` Provider: checks that its secrets, address and type
 * make a usable notifier (Validated), and reports the last delivery outcome (DeliveryFailed), from which
 * Ready is computed. Secrets it references are watched, so fixing one clears the error.
 */
export class ProviderReconciler implements Reconciler {
  readonly kind = ProviderKind;
  readonly controllerName = NOTIFICATION_CONTROLLER;
  readonly watches: RelatedWatch[];

  constructor(private readonly deps: ProviderReconcilerDeps) {
    const secretOf = (p: Provider, name: string) =>
      [p.spec?.secretRef, p.spec?.certSecretRef, p.spec?.proxySecretRef].some((r) => r?.name === name);
    this.watches = [referrersWatch<Provider>(deps.store, ProviderKind, 'Secret', secretOf)];
  }

  async reconcile(ref: ObjectRef, _context: ReconcileContext): Promise<ReconcileResult> {
    const object = (await this.deps.store.get(ref)) as Provider | undefined;
    if (!object) {
      this.deps.health.forget(ref);
      return {};
    }
    await runNotificationReconcile(this.deps.store, ref, object, READY_SUMMARY, async (run) => {
      await this.reconcileConfig(object, run.conditions);
      reconcileLastDelivery(this.deps.health, ref, run.conditions);
    });
    return {};
  }

  /** Resolve secrets and build the notifier once, so a broken Provider shows before the first event. */
  private async reconcileConfig(object: Provider, conditions: ConditionSet): Promise<void> {
    try {
      createNotifier(await resolveNotifierConfig(this.deps.store, object));
      conditions.mark(NotificationConditions.Validated, 'True', Reasons.Succeeded, NotificationReasons.Initialized);
    } catch (error) {
      const reason = error instanceof ProviderConfigError ? error.reason : NotificationReasons.ValidationFailed;
      const message = errorMessage(error);
      conditions.mark(NotificationConditions.Validated, 'False', reason, message);
      // A missing secret may still appear (it is watched); anything else needs a spec change.
      if (reason === NotificationReasons.SecretNotFound) throw new ReconcileError(reason, message);
      throw new StallingError(reason, message);
    }
  }
}
