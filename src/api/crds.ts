import { AlertKind } from './alert.ts';
import { AppKind } from './app.ts';
import { structuralSchema, type OpenApiSchema } from './crd-schema.ts';
import { BucketKind } from './bucket.ts';
import { GitRepositoryKind } from './gitrepository.ts';
import { HelmChartKind } from './helmchart.ts';
import { HelmRepositoryKind } from './helmrepository.ts';
import { OCIRepositoryKind } from './ocirepository.ts';
import { allKinds, type KindInfo } from './kinds.ts';
import { KustomizationKind } from './kustomization.ts';
import { HelmReleaseKind } from './helmrelease.ts';
import type { KObject } from './meta.ts';
import { ProviderKind } from './provider.ts';
import { ReceiverKind } from './receiver.ts';

/** Where the API server serves one kind: group, versions (the first is the storage version), plural. */
export interface KindResource {
  kind: string;
  /** `''` for core kinds. */
  group: string;
  /** Served versions; the first is the one Kedge writes (and the CRD's storage version). */
  versions: string[];
  plural: string;
}

/** The names and columns of one CRD, as Flux's own CRDs have them. */
interface CrdNames {
  plural: string;
  singular: string;
  shortNames: string[];
  categories: string[];
  /** Columns before Age, Ready and Status (Flux's order: URL first for sources). */
  columns: { name: string; jsonPath: string; type: string }[];
}

const ready = '.status.conditions[?(@.type=="Ready")]';

const names: Record<string, CrdNames> = {
  [GitRepositoryKind]: {
    plural: 'gitrepositories',
    singular: 'gitrepository',
    shortNames: ['gitrepo'],
    categories: ['all', 'fluxcd', 'fluxcd-sources'],
    columns: [{ name: 'URL', jsonPath: '.spec.url', type: 'string' }],
  },
  [BucketKind]: {
    plural: 'buckets',
    singular: 'bucket',
    shortNames: [],
    categories: ['all', 'fluxcd', 'fluxcd-sources'],
    columns: [{ name: 'Endpoint', jsonPath: '.spec.endpoint', type: 'string' }],
  },
  [HelmRepositoryKind]: {
    plural: 'helmrepositories',
    singular: 'helmrepository',
    shortNames: ['helmrepo'],
    categories: ['all', 'fluxcd', 'fluxcd-sources'],
    columns: [{ name: 'URL', jsonPath: '.spec.url', type: 'string' }],
  },
  [HelmChartKind]: {
    plural: 'helmcharts',
    singular: 'helmchart',
    shortNames: ['hc'],
    categories: ['all', 'fluxcd', 'fluxcd-sources'],
    columns: [
      { name: 'Chart', jsonPath: '.spec.chart', type: 'string' },
      { name: 'Version', jsonPath: '.spec.version', type: 'string' },
      { name: 'Source Kind', jsonPath: '.spec.sourceRef.kind', type: 'string' },
      { name: 'Source Name', jsonPath: '.spec.sourceRef.name', type: 'string' },
    ],
  },
  [OCIRepositoryKind]: {
    plural: 'ocirepositories',
    singular: 'ocirepository',
    shortNames: ['ocirepo'],
    categories: ['all', 'fluxcd', 'fluxcd-sources'],
    columns: [{ name: 'URL', jsonPath: '.spec.url', type: 'string' }],
  },
  [KustomizationKind]: {
    plural: 'kustomizations',
    singular: 'kustomization',
    shortNames: ['ks'],
    categories: ['all', 'fluxcd', 'fluxcd-appliers'],
    columns: [],
  },
  [HelmReleaseKind]: {
    plural: 'helmreleases',
    singular: 'helmrelease',
    shortNames: ['hr'],
    categories: ['all', 'fluxcd', 'fluxcd-appliers'],
    columns: [],
  },
  [ProviderKind]: {
    plural: 'providers',
    singular: 'provider',
    shortNames: [],
    categories: ['fluxcd'],
    columns: [],
  },
  [AlertKind]: { plural: 'alerts', singular: 'alert', shortNames: [], categories: ['fluxcd'], columns: [] },
  [ReceiverKind]: {
    plural: 'receivers',
    singular: 'receiver',
    shortNames: [],
    categories: ['fluxcd'],
    columns: [],
  },
  [AppKind]: {
    plural: 'apps',
    singular: 'app',
    shortNames: [],
    categories: ['all', 'kedge'],
    columns: [
      { name: 'Replicas', jsonPath: '.spec.replicas', type: 'integer' },
      { name: 'Revision', jsonPath: '.status.currentRevision', type: 'string' },
    ],
  },
};

/** Core kinds Kedge stores (no CRD): their plural resource names under `/api/v1`. */
const corePlurals: Record<string, string> = { Secret: 'secrets', ConfigMap: 'configmaps' };

/** Label on every CRD Kedge generates, so a cluster tells them from Flux's. */
export const CrdPartOfLabel = 'app.kubernetes.io/part-of';

/** Kedge's non-core kinds, each with the apiVersions kinds.ts accepts. */
function customKinds(): KindInfo[] {
  return allKinds().filter((info) => info.apiVersions.every((v) => v.includes('/')));
}

/**
 * The API resource of every kind Kedge stores: Flux's groups, versions and plurals for Flux's kinds,
 * `kedge.dev/v1alpha1` for App, `/api/v1` for Secret and ConfigMap.
 */
export function kindResources(): KindResource[] {
  return allKinds().map((info) => {
    const [first = ''] = info.apiVersions;
    const group = first.includes('/') ? first.slice(0, first.indexOf('/')) : '';
    const plural = names[info.kind]?.plural ?? corePlurals[info.kind];
    if (plural === undefined)
      throw new Error(`no resource name for kind ${info.kind}; add it to src/api/crds.ts`);
    return {
      kind: info.kind,
      group,
      versions: info.apiVersions.map((v) => v.slice(v.indexOf('/') + 1)),
      plural,
    };
  });
}

/**
 * `apiextensions.k8s.io/v1` CustomResourceDefinitions for every non-core kind in kinds.ts, generated from its
 * zod schema (see {@link structuralSchema}): Flux's group, versions, plural, short names and printer columns,
 * the `status` subresource (status kept as written: `x-kubernetes-preserve-unknown-fields`). A kind accepted in
 * several versions (Provider and Alert: v1beta3 and v1beta2) is served in all of them with one schema, stored
 * in the first.
 */
export function customResourceDefinitions(): KObject[] {
  const resources = new Map(kindResources().map((r) => [r.kind, r]));
  return customKinds().map((info) => {
    const resource = resources.get(info.kind)!;
    const crdNames = names[info.kind]!;
    const body = structuralSchema(info.body);
    const openAPIV3Schema: OpenApiSchema = {
      type: 'object',
      description: `${info.kind} (${info.apiVersions[0]}), generated by Kedge from its schema.`,
      properties: {
        apiVersion: { type: 'string' },
        kind: { type: 'string' },
        metadata: { type: 'object' },
        ...(body.properties as Record<string, OpenApiSchema>),
        status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
      },
      ...(Array.isArray(body.required) ? { required: body.required } : {}),
    };
    const columns = [
      ...crdNames.columns,
      { name: 'Age', jsonPath: '.metadata.creationTimestamp', type: 'date' },
      { name: 'Ready', jsonPath: `${ready}.status`, type: 'string' },
      { name: 'Status', jsonPath: `${ready}.message`, type: 'string' },
    ];
    return {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: `${resource.plural}.${resource.group}`, labels: { [CrdPartOfLabel]: 'kedge' } },
      spec: {
        group: resource.group,
        names: {
          kind: info.kind,
          listKind: `${info.kind}List`,
          plural: crdNames.plural,
          singular: crdNames.singular,
          ...(crdNames.shortNames.length > 0 ? { shortNames: crdNames.shortNames } : {}),
          categories: crdNames.categories,
        },
        scope: 'Namespaced',
        versions: resource.versions.map((name, index) => ({
          name,
          served: true,
          storage: index === 0,
          schema: { openAPIV3Schema },
          subresources: { status: {} },
          additionalPrinterColumns: columns,
        })),
      },
    };
  });
}
