import { z } from 'zod';
import type { Condition, KObject } from './meta.ts';
import { canaryStrategySchema, type CanaryStatus } from './app-canary.ts';

export const AppKind = 'App';
export const AppApiVersion = 'kedge.dev/v1alpha1';

export { SourceArtifactAnnotation, SourceRevisionAnnotation } from './source-annotations.ts';

const portName = z
  .string()
  .regex(/^[a-z]([-a-z0-9]*[a-z0-9])?$/, 'must be a lowercase name (a-z, 0-9 and -) starting with a letter')
  .max(15);
const portRef = z.union([portName, z.number().int().min(1).max(65535)]);
const keyRef = z.strictObject({ name: z.string().min(1), key: z.string().min(1), optional: z.boolean().optional() });
const objectRef = z.strictObject({ name: z.string().min(1), optional: z.boolean().optional() });
/** An integer or a percentage of replicas (`25%`), as a Deployment's strategy takes them. */
const intOrPercent = z.union([z.number().int().min(0), z.string().regex(/^[0-9]+%$/, 'must be an integer or a percentage such as 25%')]);

const envVar = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a valid environment variable name'),
    value: z.string().optional(),
    valueFrom: z
      .strictObject({ secretKeyRef: keyRef.optional(), configMapKeyRef: keyRef.optional() })
      .refine((v) => (v.secretKeyRef ? 1 : 0) + (v.configMapKeyRef ? 1 : 0) === 1, 'must set exactly one of secretKeyRef and configMapKeyRef')
      .optional(),
  })
  .refine((e) => !(e.value !== undefined && e.valueFrom), 'must not set both value and valueFrom');

const envFromSource = z
  .strictObject({ prefix: z.string().optional(), secretRef: objectRef.optional(), configMapRef: objectRef.optional() })
  .refine((v) => (v.secretRef ? 1 : 0) + (v.configMapRef ? 1 : 0) === 1, 'must set exactly one of secretRef and configMapRef');

const probe = z
  .strictObject({
    httpGet: z.strictObject({ path: z.string().startsWith('/').default('/'), port: portRef }).optional(),
    tcpSocket: z.strictObject({ port: portRef }).optional(),
    initialDelaySeconds: z.number().int().min(0).optional(),
    periodSeconds: z.number().int().min(1).optional(),
    timeoutSeconds: z.number().int().min(1).optional(),
    failureThreshold: z.number().int().min(1).optional(),
    successThreshold: z.number().int().min(1).optional(),
  })
  .refine((p) => (p.httpGet ? 1 : 0) + (p.tcpSocket ? 1 : 0) === 1, 'must set exactly one of httpGet and tcpSocket');

/** A Kubernetes memory quantity: `256Mi`, `1Gi`, `500M`, `1048576`. */
export const MEMORY_QUANTITY = /^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|k|K|M|G|T)?$/;

/** `kedge.dev/v1alpha1` App: processes supervised on this machine, shaped like a Deployment. */
export const appSpecSchema = z
  .strictObject({
    replicas: z.number().int().min(0).default(1).optional(),
    workingDir: z.string().optional(),
    setup: z.array(z.string()).min(1).optional(),
    command: z
      .array(z.string(), { error: 'must list the program and its arguments, e.g. ["node", "server.js"]' })
      .min(1, 'must name the program to run'),
    env: z.array(envVar).optional(),
    envFrom: z.array(envFromSource).optional(),
    ports: z.array(z.strictObject({ name: portName })).optional(),
    expose: z
      .strictObject({
        port: z.number().int().min(1).max(65535),
        /** `http` (default): forwarded per request, keep-alive clients never pinned to a replica; `tcp`: per connection. */
        protocol: z.enum(['http', 'tcp'], { error: "must be 'http' or 'tcp'" }).optional(),
      })
      .optional(),
    readinessProbe: probe.optional(),
    livenessProbe: probe.optional(),
    strategy: z
      .strictObject({
        maxSurge: intOrPercent.optional(),
        maxUnavailable: intOrPercent.optional(),
        /** Progressive delivery instead of an immediate rolling update (see app-canary.ts). */
        canary: canaryStrategySchema.optional(),
      })
      .optional(),
    terminationGracePeriodSeconds: z.number().int().min(0).optional(),
    progressDeadlineSeconds: z.number().int().min(1).optional(),
    resources: z
      .strictObject({
        limits: z.strictObject({ memory: z.string().regex(MEMORY_QUANTITY, 'must be a quantity such as 256Mi or 1Gi').optional() }).optional(),
      })
      .optional(),
    suspend: z.boolean().optional(),
  })
  .superRefine((spec, ctx) => {
    const names = (spec.ports ?? []).map((p) => p.name);
    if (spec.expose && names.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['expose'], message: 'needs a port in spec.ports to send connections to' });
    }
    names.forEach((name, i) => {
      if (names.indexOf(name) !== i) ctx.addIssue({ code: 'custom', path: ['ports', i, 'name'], message: `duplicate port name '${name}'` });
    });
    if (spec.strategy?.canary && spec.expose?.protocol === 'tcp') {
      ctx.addIssue({ code: 'custom', path: ['strategy', 'canary'], message: "needs expose.protocol 'http': the proxy splits and measures requests" });
    }
    if (spec.strategy?.canary && !spec.expose) {
      ctx.addIssue({ code: 'custom', path: ['strategy', 'canary'], message: 'needs spec.expose: the expose proxy splits the traffic' });
    }
    for (const which of ['readinessProbe', 'livenessProbe'] as const) {
      const p = spec[which];
      const port = p?.httpGet?.port ?? p?.tcpSocket?.port;
      if (typeof port === 'string' && !names.includes(port)) {
        const at = p?.httpGet ? 'httpGet' : 'tcpSocket';
        ctx.addIssue({ code: 'custom', path: [which, at, 'port'], message: `names no port in spec.ports: '${port}'` });
      }
    }
  });

export type AppSpec = z.infer<typeof appSpecSchema>;
export type AppProbe = NonNullable<AppSpec['readinessProbe']>;
export type AppEnvVar = NonNullable<AppSpec['env']>[number];

/** One replica as `status.replicaStatuses` reports it. */
export interface AppReplicaStatus {
  index: number;
  pid?: number;
  ports: Record<string, number>;
  /** Starting, Running, CrashLoopBackOff or Terminating. */
  state: string;
  ready: boolean;
  restarts: number;
  revision: string;
  /** The template hash the replica runs (like a ReplicaSet's pod-template-hash). */
  templateHash: string;
  lastExit?: string;
}

/** Shaped like a Deployment's status, so kstatus reads an App as it reads a Deployment. */
export interface AppStatus {
  observedGeneration?: number;
  replicas?: number;
  readyReplicas?: number;
  updatedReplicas?: number;
  availableReplicas?: number;
  unavailableReplicas?: number;
  conditions?: Condition[];
  /** The revision every replica runs once a rollout completed. */
  currentRevision?: string;
  /** The revision being rolled out. */
  updateRevision?: string;
  /** `127.0.0.1:<port>` when `spec.expose` is set. */
  exposedAddress?: string;
  /** How `resources.limits.memory` is enforced on this machine, or why it is not. */
  memoryLimit?: string;
  replicaStatuses?: AppReplicaStatus[];
  /** Where a canary release stands (`spec.strategy.canary`). */
  canary?: CanaryStatus;
  lastHandledReconcileAt?: string;
}

export type App = KObject<AppSpec, AppStatus>;
