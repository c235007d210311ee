import { Conditions, ReconcileRequestAnnotation, Reasons } from '../api/conditions.ts';
import type { ObjectRef } from '../api/meta.ts';
import { NotificationConditions, NotificationReasons, ProviderKind, type Provider, type ProviderStatus } from '../api/provider.ts';
import { ConditionSet } from '../runtime/conditions.ts';
import { ReconcileError, StallingError, errorMessage } from '../runtime/errors.ts';
import type { ReconcileContext, ReconcileResult, Reconciler, RelatedWatch } from '../runtime/reconciler.ts';
import { summarizeConditions } from '../runtime/summarize.ts';
import type { DeliveryHealth } from '../notify/delivery-health.ts';
import { NOTIFICATION_CONTROLLER } from '../notify/dispatcher.ts';
import { createNotifier } from '../notify/notifier-factory.ts';
import { ProviderConfigError, resolveNotifierConfig } from '../notify/provider-config.ts';
import type { Store } from '../store/store.ts';

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
    this.watches = [
      {
        kind: 'Secret',
        map: async ({ object }) => {
          const name = object.metadata.name;
          const providers = (await deps.store.list(ProviderKind, { namespace: object.metadata.namespace })) as Provider[];
          return providers
            .filter((p) => [p.spec?.secretRef, p.spec?.certSecretRef, p.spec?.proxySecretRef].some((r) => r?.name === name))
            .map((p) => ({ kind: ProviderKind, namespace: p.metadata.namespace ?? 'default', name: p.metadata.name }));
        },
      },
    ];
  }

  async reconcile(ref: ObjectRef, _context: ReconcileContext): Promise<ReconcileResult> {
    const object = (await this.deps.store.get(ref)) as Provider | undefined;
    if (!object) {
      this.deps.health.forget(ref);
      return {};
    }
    const status: ProviderStatus = structuredClone(object.status ?? {});
    const conditions = new ConditionSet(status.conditions, object.metadata.generation ?? 1);
    let outcome: Error | undefined;
    try {
      await this.reconcileConfig(object, conditions);
      this.reconcileDelivery(ref, conditions);
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

  /** Report the last delivery through this Provider. */
  private reconcileDelivery(ref: ObjectRef, conditions: ConditionSet): void {
    const last = this.deps.health.get(ref);
    if (last && !last.ok) conditions.mark(NotificationConditions.DeliveryFailed, 'True', NotificationReasons.NotificationFailed, last.message);
    else conditions.delete(NotificationConditions.DeliveryFailed);
    conditions.delete(Conditions.Reconciling);
  }
}
