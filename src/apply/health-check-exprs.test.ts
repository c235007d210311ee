import { describe, expect, it } from 'vitest';
import type { HealthCheckExpr } from '../api/kustomization.ts';
import { statusRuleFor } from './health-check-exprs.ts';

const exprs: HealthCheckExpr[] = [
  {
    apiVersion: 'bitnami.com/v1alpha1',
    kind: 'SealedSecret',
    inProgress: "status.conditions.exists(e, e.type == 'Synced' && e.status == 'Unknown')",
    failed: "status.conditions.filter(e, e.type == 'Synced').all(e, e.status == 'False')",
    current: "status.conditions.filter(e, e.type == 'Synced').all(e, e.status == 'True')",
  },
  // Group-wide: every kind of the group, whatever the version.
  { apiVersion: 'example.com/v2', current: "status.phase == 'Done'" },
  // A kind of that group with its own rule wins over the group's.
  { apiVersion: 'example.com/v1', kind: 'Special', current: 'spec.size > 2' },
  {
    apiVersion: 'order.io/v1',
    kind: 'Both',
    inProgress: 'status.busy',
    failed: 'status.bad',
    current: 'status.ok',
  },
];
const both = (status: object) => ({
  apiVersion: 'order.io/v1',
  kind: 'Both',
  metadata: { name: 'b' },
  status,
});

const sealed = (conditions: object[], extra: object = {}) => ({
  apiVersion: 'bitnami.com/v1alpha1',
  kind: 'SealedSecret',
  metadata: { name: 's', generation: 1 },
  status: { observedGeneration: 1, conditions },
  ...extra,
});

describe('statusRuleFor (healthCheckExprs)', () => {
  const rule = statusRuleFor(exprs);
  it.each([
    ['current', sealed([{ type: 'Synced', status: 'True' }]), 'Current'],
    ['failed', sealed([{ type: 'Synced', status: 'False' }]), 'Failed'],
    ['inProgress before failed and current', both({ busy: true, bad: true, ok: true }), 'InProgress'],
    ['failed before current', both({ busy: false, bad: true, ok: true }), 'Failed'],
    ['current last', both({ busy: false, bad: false, ok: true }), 'Current'],
    [
      'InProgress when no expression is true',
      sealed([
        { type: 'Synced', status: 'True' },
        { type: 'Synced', status: 'Maybe' },
      ]),
      'InProgress',
    ],
    [
      'InProgress while the generation is not observed',
      { ...sealed([{ type: 'Synced', status: 'True' }]), metadata: { name: 's', generation: 2 } },
      'InProgress',
    ],
    [
      'Unknown when a field is missing (the wait goes on)',
      { apiVersion: 'bitnami.com/v1alpha1', kind: 'SealedSecret', metadata: { name: 's' } },
      'Unknown',
    ],
    [
      'a group-wide entry, another version',
      { apiVersion: 'example.com/v1', kind: 'Thing', metadata: { name: 't' }, status: { phase: 'Done' } },
      'Current',
    ],
    [
      'a kind entry over the group entry',
      {
        apiVersion: 'example.com/v2',
        kind: 'Special',
        metadata: { name: 't' },
        spec: { size: 1 },
        status: { phase: 'Done' },
      },
      'InProgress',
    ],
    [
      'kstatus for kinds without expressions',
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } },
      'Current',
    ],
    [
      'kstatus for kinds without expressions (Stalled)',
      {
        apiVersion: 'other.io/v1',
        kind: 'X',
        metadata: { name: 'x' },
        status: { conditions: [{ type: 'Stalled', status: 'True', message: 'boom' }] },
      },
      'Failed',
    ],
    ['NotFound when the object is gone', undefined, 'NotFound'],
  ])('%s', (_name, object, expected) => {
    expect(rule(object).status).toBe(expected);
  });

  it('says which expression decided, and why one could not be evaluated', () => {
    expect(rule(sealed([{ type: 'Synced', status: 'False' }])).message).toBe(
      "healthCheckExprs: failed expression is true: status.conditions.filter(e, e.type == 'Synced').all(e, e.status == 'False')",
    );
    expect(
      rule({ apiVersion: 'bitnami.com/v1alpha1', kind: 'SealedSecret', metadata: { name: 's' } }).message,
    ).toContain(
      "healthCheckExprs: failed to evaluate the CEL expression 'status.conditions.exists(e, e.type == 'Synced' && e.status == 'Unknown')': Unknown variable: status",
    );
  });
});
