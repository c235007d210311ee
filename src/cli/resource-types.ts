import type { KObject } from '../api/meta.ts';
import { Conditions } from '../api/conditions.ts';

/** One kind as the CLI addresses it (`source git`, flux's words) and shows it in tables. */
export interface ResourceType {
  kind: string;
  /** Words after the verb: `get sources git`, `reconcile source git`. */
  singular: string[];
  plural: string[];
  columns: Array<{ header: string; value: (o: KObject) => string }>;
}

const readyCondition = (o: KObject) =>
  ((o.status as { conditions?: Array<{ type: string; status: string; message: string }> } | undefined)?.conditions ?? []).find(
    (c) => c.type === Conditions.Ready,
  );

export const readyColumns: ResourceType['columns'] = [
  { header: 'SUSPENDED', value: (o) => String((o.spec as { suspend?: boolean } | undefined)?.suspend === true) },
  { header: 'READY', value: (o) => readyCondition(o)?.status ?? 'Unknown' },
  { header: 'MESSAGE', value: (o) => readyCondition(o)?.message ?? 'waiting to be reconciled' },
];

export const resourceTypes: ResourceType[] = [
  { kind: 'Alert', singular: ['alert'], plural: ['alerts'], columns: readyColumns },
  { kind: 'Provider', singular: ['alert-provider'], plural: ['alert-providers'], columns: readyColumns },
  { kind: 'Provider', singular: ['provider'], plural: ['providers'], columns: readyColumns },
  {
    kind: 'Receiver',
    singular: ['receiver'],
    plural: ['receivers'],
    columns: [{ header: 'WEBHOOK', value: (o) => (o.status as { webhookPath?: string } | undefined)?.webhookPath ?? '' }, ...readyColumns],
  },
  {
    kind: 'Kustomization',
    singular: ['kustomization'],
    plural: ['kustomizations'],
    columns: [
      { header: 'REVISION', value: (o) => (o.status as { lastAppliedRevision?: string } | undefined)?.lastAppliedRevision ?? '' },
      ...readyColumns,
    ],
  },
  {
    kind: 'GitRepository',
    singular: ['source', 'git'],
    plural: ['sources', 'git'],
    columns: [
      { header: 'REVISION', value: (o) => (o.status as { artifact?: { revision?: string } } | undefined)?.artifact?.revision ?? '' },
      ...readyColumns,
    ],
  },
];

export function resourceType(kind: string): ResourceType {
  const type = resourceTypes.find((t) => t.kind === kind);
  if (!type) throw new Error(`no CLI resource type for ${kind}`);
  return type;
}

/** `GitRepository` → `source git`, as flux names kinds in its messages. */
export function describeKind(kind: string): string {
  return resourceTypes.find((t) => t.kind === kind)?.singular.join(' ') ?? kind;
}
