import { Reasons } from '../api/conditions.ts';
import { secretValues } from '../api/core.ts';
import { parseDuration } from '../api/duration.ts';
import type { ObjectRef } from '../api/meta.ts';
import { NotificationConditions, NotificationReasons } from '../api/provider.ts';
import { DEFAULT_RECEIVER_INTERVAL, ReceiverKind, type Receiver } from '../api/receiver.ts';
import type { ConditionSet } from '../runtime/conditions.ts';
import { ReconcileError, StallingError } from '../runtime/errors.ts';
import type { ReconcileContext, ReconcileResult, Reconciler, RelatedWatch } from '../runtime/reconciler.ts';
import { referrersWatch } from '../runtime/referrers-watch.ts';
import { NOTIFICATION_CONTROLLER } from '../notify/dispatcher.ts';
import { webhookPath } from '../notify/webhook-path.ts';
import type { Store } from '../store/store.ts';
import { runNotificationReconcile } from './notification/notification-run.ts';

const READY_SUMMARY = { negative: [], positive: [NotificationConditions.Validated] } as const;

/**
 * Reconciles `notification.toolkit.fluxcd.io/v1` Receiver: reads the token from its secret and publishes
 * `status.webhookPath` (`/hook/<sha256(token+name+namespace)>`), which the receiver server routes on. The
 * secret is watched, so a rotated token moves the path at once.
 */
export class ReceiverReconciler implements Reconciler {
  readonly kind = ReceiverKind;
  readonly controllerName = NOTIFICATION_CONTROLLER;
  readonly watches: RelatedWatch[];

  constructor(private readonly deps: { store: Store }) {
    this.watches = [referrersWatch<Receiver>(deps.store, ReceiverKind, 'Secret', (r, name) => r.spec?.secretRef?.name === name)];
  }

  async reconcile(ref: ObjectRef, _context: ReconcileContext): Promise<ReconcileResult> {
    const object = (await this.deps.store.get(ref)) as Receiver | undefined;
    if (!object) return {};
    await runNotificationReconcile(this.deps.store, ref, object, READY_SUMMARY, async (run) => {
      try {
        run.status.webhookPath = await this.reconcileWebhookPath(object, ref, run.conditions);
      } catch (error) {
        delete run.status.webhookPath;
        throw error;
      }
    });
    return { requeueAfterMs: parseDuration(object.spec!.interval ?? DEFAULT_RECEIVER_INTERVAL) };
  }

  private async reconcileWebhookPath(object: Receiver, ref: ObjectRef, conditions: ConditionSet): Promise<string> {
    // generic-oidc receivers authenticate with the caller's ID token and have no secret: as Flux, their
    // path derives from an empty token (name and namespace only).
    if (!object.spec!.secretRef) {
      const path = webhookPath('', ref.name, ref.namespace);
      conditions.mark(NotificationConditions.Validated, 'True', Reasons.Succeeded, `Receiver initialized for path: ${path}`);
      return path;
    }
    const secretName = object.spec!.secretRef.name;
    const secret = await this.deps.store.get({ kind: 'Secret', namespace: ref.namespace, name: secretName });
    if (!secret) {
      const message = `secret '${ref.namespace}/${secretName}' of Receiver '${ref.namespace}/${ref.name}' not found`;
      conditions.mark(NotificationConditions.Validated, 'False', NotificationReasons.SecretNotFound, message);
      throw new ReconcileError(NotificationReasons.SecretNotFound, message);
    }
    const values = secretValues(secret);
    // GCR receivers also check the ID token against the secret's `email` and `audience`.
    const required = object.spec!.type === 'gcr' ? ['token', 'email', 'audience'] : ['token'];
    const missing = required.filter((key) => !values[key]);
    const token = values.token;
    if (!token || missing.length > 0) {
      const keys = missing.map((key) => `'${key}'`).join(', ');
      const message = `secret '${ref.namespace}/${secretName}' of Receiver '${ref.namespace}/${ref.name}' has no ${keys} key${missing.length > 1 ? 's' : ''}`;
      conditions.mark(NotificationConditions.Validated, 'False', NotificationReasons.ValidationFailed, message);
      throw new StallingError(NotificationReasons.ValidationFailed, message);
    }
    const path = webhookPath(token, ref.name, ref.namespace);
    conditions.mark(NotificationConditions.Validated, 'True', Reasons.Succeeded, `Receiver initialized for path: ${path}`);
    return path;
  }
}
