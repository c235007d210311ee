import { customResourceDefinitions } from '../api/crds.ts';
import type { KObject } from '../api/meta.ts';
import { ArtifactServiceName } from '../source/artifact/advertised-url.ts';
import { rbacManifests, rbacNames } from './install-rbac.ts';

/** What `kedge install` sets up; the CLI turns flags into this. */
export interface InstallOptions {
  /** Namespace of the Deployment, Services, ServiceAccount and Lease. Default `kedge-system`. */
  namespace: string;
  /** Kedge's version (the package's), for labels and the default package. */
  version: string;
  /**
   * Container image: Kedge built by the repository's `Dockerfile` (Node, git, the compiled CLI, kustomize-build,
   * helm, sops), `kedge` on its PATH. Default {@link defaultImage}.
   */
  image?: string;
  /** Default 1. More replicas are hot standbys: one leads (leader election), the others wait. */
  replicas?: number;
}

/** Names and ports of what an install creates in its namespace. */
export const InstallNames = {
  deployment: 'kedge',
  /** Flux's name for the artifact server's Service, so in-cluster artifact URLs look like Flux's. */
  artifactService: ArtifactServiceName,
  /** Flux's name for the notification receiver's Service. */
  receiverService: 'webhook-receiver',
  lease: 'kedge-leader',
} as const;

const ports = { artifacts: 9090, metrics: 8080, receivers: 9292 } as const;

/** Where the release images are published (`docker build` of the repository's Dockerfile, tagged `v<version>`). */
export const ImageRepository = 'ghcr.io/kedge-dev/kedge';

/** The default image: {@link ImageRepository} at this version's tag, `v<version>`. */
export function defaultImage(version: string): string {
  return `${ImageRepository}:v${version}`;
}

/**
 * Everything `kedge install` applies, in apply order: the CRDs (generated from the zod schemas), the
 * namespace, ServiceAccount and RBAC, the Deployment and the two Services.
 */
export function installManifests(options: InstallOptions): KObject[] {
  const { namespace } = options;
  const labels = {
    'app.kubernetes.io/part-of': 'kedge',
    'app.kubernetes.io/instance': namespace,
    'app.kubernetes.io/version': options.version,
  };
  return [
    ...customResourceDefinitions(),
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels } },
    ...rbacManifests(namespace, labels),
    deployment(options, labels),
    service(InstallNames.artifactService, namespace, labels, 'http'),
    service(InstallNames.receiverService, namespace, labels, 'http-webhook'),
  ];
}

const selector = { 'app.kubernetes.io/name': 'kedge' };

function deployment(options: InstallOptions, labels: Record<string, string>): KObject {
  const { namespace } = options;
  const image = options.image ?? defaultImage(options.version);
  const securityContext = {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
  const env = [
    { name: 'HOME', value: '/tmp' },
    { name: 'RUNTIME_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
  ];
  const mounts = [
    { name: 'data', mountPath: '/data' },
    { name: 'tmp', mountPath: '/tmp' },
  ];
  const probe = (path: string) => ({
    httpGet: { path, port: 'http-metrics' },
    periodSeconds: 10,
    timeoutSeconds: 5,
  });
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: InstallNames.deployment, namespace, labels: { ...labels, ...selector } },
    spec: {
      replicas: options.replicas ?? 1,
      selector: { matchLabels: selector },
      template: {
        metadata: {
          labels: { ...labels, ...selector },
          annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(ports.metrics) },
        },
        spec: {
          serviceAccountName: rbacNames(namespace).serviceAccount,
          // In-flight reconciles get 10 s (the engine's shutdown grace), then the lease is released.
          terminationGracePeriodSeconds: 30,
          securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000 },
          containers: [
            {
              name: 'kedge',
              image,
              command: ['kedge'],
              args: [
                '--data-dir=/data',
                '--log-format=json',
                'up',
                '--store=kubernetes',
                '--leader-elect',
                `--storage-addr=0.0.0.0:${ports.artifacts}`,
                // What artifact URLs say: the Service (port 80), never the pod's 0.0.0.0.
                `--storage-adv-addr=${InstallNames.artifactService}.${namespace}.svc.cluster.local.`,
                `--metrics-addr=0.0.0.0:${ports.metrics}`,
                `--receiver-addr=0.0.0.0:${ports.receivers}`,
              ],
              env,
              ports: [
                { name: 'http', containerPort: ports.artifacts, protocol: 'TCP' },
                { name: 'http-metrics', containerPort: ports.metrics, protocol: 'TCP' },
                { name: 'http-webhook', containerPort: ports.receivers, protocol: 'TCP' },
              ],
              readinessProbe: probe('/readyz'),
              livenessProbe: probe('/healthz'),
              resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '1Gi' } },
              securityContext,
              volumeMounts: mounts,
            },
          ],
          volumes: [
            { name: 'data', emptyDir: {} },
            { name: 'tmp', emptyDir: {} },
          ],
        },
      },
    },
  };
}

function service(
  name: string,
  namespace: string,
  labels: Record<string, string>,
  targetPort: string,
): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace, labels },
    spec: {
      type: 'ClusterIP',
      selector,
      ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort }],
    },
  };
}
