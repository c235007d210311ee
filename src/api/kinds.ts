import { z } from 'zod';
import { configMapBodySchema, secretBodySchema } from './core.ts';
import { BucketKind, bucketSpecSchema } from './bucket.ts';
import { GitRepositoryKind, gitRepositorySpecSchema } from './gitrepository.ts';
import { HelmChartKind, helmChartSpecSchema } from './helmchart.ts';
import { HelmRepositoryKind, helmRepositorySpecSchema } from './helmrepository.ts';
import { OCIRepositoryKind, ociRepositorySpecSchema } from './ocirepository.ts';
import { KustomizationApiVersion, KustomizationKind, kustomizationSpecSchema } from './kustomization.ts';
import { AppApiVersion, AppKind, appSpecSchema } from './app.ts';
import { HelmReleaseApiVersion, HelmReleaseKind, helmReleaseSpecSchema } from './helmrelease.ts';
import { AlertKind, alertSpecSchema } from './alert.ts';
import { ProviderKind, providerSpecSchema } from './provider.ts';
import { ReceiverKind, receiverSpecSchema } from './receiver.ts';

/** What Kedge knows about one kind it stores. */
export interface KindInfo {
  kind: string;
  /** Accepted apiVersions; the first is the one Kedge writes. */
  apiVersions: string[];
  /** Short names for the CLI (`kedge get sources git`, `gitrepo`). */
  cliNames: string[];
  /** Validates everything but apiVersion, kind, metadata and status. */
  body: z.ZodType;
}

const registry: KindInfo[] = [
  {
    kind: ProviderKind,
    apiVersions: ['notification.toolkit.fluxcd.io/v1beta3', 'notification.toolkit.fluxcd.io/v1beta2'],
    cliNames: ['provider', 'providers', 'alert-provider', 'alert-providers'],
    body: z.strictObject({ spec: providerSpecSchema }),
  },
  {
    kind: AlertKind,
    apiVersions: ['notification.toolkit.fluxcd.io/v1beta3', 'notification.toolkit.fluxcd.io/v1beta2'],
    cliNames: ['alert', 'alerts'],
    body: z.strictObject({ spec: alertSpecSchema }),
  },
  {
    kind: ReceiverKind,
    apiVersions: ['notification.toolkit.fluxcd.io/v1'],
    cliNames: ['receiver', 'receivers'],
    body: z.strictObject({ spec: receiverSpecSchema }),
  },
  {
    kind: KustomizationKind,
    apiVersions: [KustomizationApiVersion],
    cliNames: ['kustomization', 'kustomizations', 'ks'],
    body: z.strictObject({ spec: kustomizationSpecSchema }),
  },
  {
    kind: HelmReleaseKind,
    apiVersions: [HelmReleaseApiVersion],
    cliNames: ['helmrelease', 'helmreleases', 'hr'],
    body: z.strictObject({ spec: helmReleaseSpecSchema }),
  },
  {
    kind: GitRepositoryKind,
    apiVersions: ['source.toolkit.fluxcd.io/v1'],
    cliNames: ['gitrepository', 'gitrepositories', 'gitrepo', 'source git', 'sources git'],
    body: z.strictObject({ spec: gitRepositorySpecSchema }),
  },
  {
    kind: BucketKind,
    apiVersions: ['source.toolkit.fluxcd.io/v1'],
    cliNames: ['bucket', 'buckets', 'source bucket', 'sources bucket'],
    body: z.strictObject({ spec: bucketSpecSchema }),
  },
  {
    kind: HelmRepositoryKind,
    apiVersions: ['source.toolkit.fluxcd.io/v1'],
    cliNames: ['helmrepository', 'helmrepositories', 'helmrepo', 'source helm', 'sources helm'],
    body: z.strictObject({ spec: helmRepositorySpecSchema }),
  },
  {
    kind: HelmChartKind,
    apiVersions: ['source.toolkit.fluxcd.io/v1'],
    cliNames: ['helmchart', 'helmcharts', 'hc', 'source chart', 'sources chart'],
    body: z.strictObject({ spec: helmChartSpecSchema }),
  },
  {
    kind: OCIRepositoryKind,
    apiVersions: ['source.toolkit.fluxcd.io/v1', 'source.toolkit.fluxcd.io/v1beta2'],
    cliNames: ['ocirepository', 'ocirepositories', 'ocirepo', 'source oci', 'sources oci'],
    body: z.strictObject({ spec: ociRepositorySpecSchema }),
  },
  {
    kind: AppKind,
    apiVersions: [AppApiVersion],
    cliNames: ['app', 'apps'],
    body: z.strictObject({ spec: appSpecSchema }),
  },
  {
    kind: 'Secret',
    apiVersions: ['v1'],
    cliNames: ['secret', 'secrets'],
    body: secretBodySchema,
  },
  {
    kind: 'ConfigMap',
    apiVersions: ['v1'],
    cliNames: ['configmap', 'configmaps', 'cm'],
    body: configMapBodySchema,
  },
];

/** The kind Kedge stores under this apiVersion and kind, if any. */
export function findKind(apiVersion: string, kind: string): KindInfo | undefined {
  return registry.find((k) => k.kind === kind && k.apiVersions.includes(apiVersion));
}

export function kindInfo(kind: string): KindInfo {
  const info = registry.find((k) => k.kind === kind);
  if (!info) throw new Error(`unknown kind ${kind}`);
  return info;
}

export function allKinds(): readonly KindInfo[] {
  return registry;
}
