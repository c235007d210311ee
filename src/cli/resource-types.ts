import type { KObject } from '../api/meta.ts';
import { Conditions } from '../api/conditions.ts';
import { RollbackAnnotation } from '../api/history.ts';
import { appCanaryColumns } from './output/app-canary-columns.ts';

/** One kind as the CLI addresses it (`source git`, flux's words) and shows it in tables. */
export interface ResourceType {
  kind: string;
  /** Words after the verb: `get sources git`, `reconcile source git`. */
  singular: string[];
  plural: string[];
  /** Flux's short name for the leaf word (`ks`): `kedge get ks`, `kedge reconcile ks NAME`. */
  shortName?: string;
  columns: Array<{ header: string; value: (o: KObject) => string }>;
  /** Further columns with `-o wide`. */
  wideColumns?: ResourceType['columns'];
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

/** `false`, or the revision a rollback holds the object at (the `kedge.dev/rollback` annotation). */
const rolledBackColumn: ResourceType['columns'][number] = {
  header: 'ROLLED-BACK',
  value: (o) => {
    const held = o.metadata.annotations?.[RollbackAnnotation];
    if (!held) return 'false';
    try {
      return `to ${(JSON.parse(held) as { revision?: string }).revision ?? '?'}`;
    } catch {
      return 'true';
    }
  },
};

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
    shortName: 'ks',
    columns: [
      { header: 'REVISION', value: (o) => (o.status as { lastAppliedRevision?: string } | undefined)?.lastAppliedRevision ?? '' },
      rolledBackColumn,
      ...readyColumns,
    ],
  },
  {
    kind: 'HelmRelease',
    singular: ['helmrelease'],
    plural: ['helmreleases'],
    shortName: 'hr',
    columns: [
      { header: 'REVISION', value: (o) => (o.status as { history?: { chartVersion?: string }[] } | undefined)?.history?.[0]?.chartVersion ?? '' },
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
  {
    kind: 'Bucket',
    singular: ['source', 'bucket'],
    plural: ['sources', 'bucket'],
    columns: [
      { header: 'REVISION', value: (o) => (o.status as { artifact?: { revision?: string } } | undefined)?.artifact?.revision ?? '' },
      ...readyColumns,
    ],
  },
  {
    kind: 'HelmRepository',
    singular: ['source', 'helm'],
    plural: ['sources', 'helm'],
    columns: [
      { header: 'REVISION', value: (o) => (o.status as { artifact?: { revision?: string } } | undefined)?.artifact?.revision ?? '' },
      // An OCI HelmRepository is a static data container: like Flux, nothing to report for Ready.
      ...readyColumns.map((c) => (c.header === 'SUSPENDED' ? c : { ...c, value: (o: KObject) => (isOciRepository(o) ? '' : c.value(o)) })),
    ],
  },
  {
    kind: 'HelmChart',
    singular: ['source', 'chart'],
    plural: ['sources', 'chart'],
    columns: [
      { header: 'REVISION', value: (o) => (o.status as { artifact?: { revision?: string } } | undefined)?.artifact?.revision ?? '' },
      ...readyColumns,
    ],
  },
  {
    kind: 'OCIRepository',
    singular: ['source', 'oci'],
    plural: ['sources', 'oci'],
    columns: [
      { header: 'REVISION', value: (o) => (o.status as { artifact?: { revision?: string } } | undefined)?.artifact?.revision ?? '' },
      ...readyColumns,
    ],
  },
  {
    kind: 'App',
    singular: ['app'],
    plural: ['apps'],
    columns: appColumns(),
    wideColumns: appCanaryColumns,
  },
];

/** kubectl get deploy's columns, then Kedge's revision and Ready message. */
function appColumns(): ResourceType['columns'] {
  type S = { replicas?: number; readyReplicas?: number; updatedReplicas?: number; availableReplicas?: number; currentRevision?: string; updateRevision?: string };
  const st = (o: KObject) => (o.status ?? {}) as S;
  const want = (o: KObject) => (o.spec as { replicas?: number } | undefined)?.replicas ?? 1;
  return [
    { header: 'READY', value: (o) => `${st(o).readyReplicas ?? 0}/${want(o)}` },
    { header: 'UP-TO-DATE', value: (o) => String(st(o).updatedReplicas ?? 0) },
    { header: 'AVAILABLE', value: (o) => String(st(o).availableReplicas ?? 0) },
    { header: 'REVISION', value: (o) => st(o).currentRevision ?? st(o).updateRevision ?? '' },
    rolledBackColumn,
    { header: 'MESSAGE', value: (o) => readyCondition(o)?.message ?? 'waiting to be reconciled' },
  ];
}

function isOciRepository(o: KObject): boolean {
  return (o.spec as { type?: string } | undefined)?.type === 'oci';
}

export function resourceType(kind: string): ResourceType {
  const type = resourceTypes.find((t) => t.kind === kind);
  if (!type) throw new Error(`no CLI resource type for ${kind}`);
  return type;
}

/** `GitRepository` → `source git`, as flux names kinds in its messages. */
export function describeKind(kind: string): string {
  return resourceTypes.find((t) => t.kind === kind)?.singular.join(' ') ?? kind;
}
