import type { ObjectRef } from '../../api/meta.ts';
import { NotificationConditions, NotificationReasons } from '../../api/provider.ts';
import type { DeliveryHealth } from '../../notify/delivery-health.ts';
import type { ConditionSet } from '../../runtime/conditions.ts';

/** Report the last delivery for a Provider or Alert: DeliveryFailed=True with its message, or no DeliveryFailed. */
export function reconcileLastDelivery(health: DeliveryHealth, ref: ObjectRef, conditions: ConditionSet): void {
  const last = health.get(ref);
  if (last && !last.ok) conditions.mark(NotificationConditions.DeliveryFailed, 'True', NotificationReasons.NotificationFailed, last.message);
  else conditions.delete(NotificationConditions.DeliveryFailed);
}
