/**
 * The benchmark's Git repository content and the GitRepository + Kustomization manifests that deploy it, the
 * same for Kedge and Flux. Every Kustomization applies 10 objects in its own namespace `bench-<i>`.
 */

/** `configmaps`: 1 Namespace + 9 ConfigMaps. `app`: a small app shaped like the public flux-benchmark. */
export type Workload = 'configmaps' | 'app';
/** `paths`: one directory per Kustomization (the artifact holds N × 10 files, as users lay out a fleet repository). `substitute`: one directory, `postBuild.substitute` names the namespace (the bench before 2026-12-02). */
export type Layout = 'paths' | 'substitute';

export interface WorkloadOptions {
  n: number;
  workload: Workload;
  layout: Layout;
  wait: boolean;
  /** Interval of the GitRepository and every Kustomization. */
  interval: string;
  /** Repository URL as both tools see it (smart HTTP). */
  url: string;
}

const filler = 'x'.repeat(200);

function configMap(name: string, ns: string, index: number): string {
  return `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: ${ns}\ndata:\n  index: "${index}"\n  text: "${filler}"\n`;
}

/** The 10 files of one Kustomization's directory, for namespace `ns`. */
export function appFiles(workload: Workload, ns: string): Record<string, string> {
  const files: Record<string, string> = {
    'ns.yaml': `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${ns}\n`,
  };
  if (workload === 'configmaps') {
    for (let i = 1; i <= 9; i++) files[`cm-${i}.yaml`] = configMap(`cm-${i}`, ns, i);
    return files;
  }
  const labels = `app.kubernetes.io/name: podinfo`;
  files['serviceaccount.yaml'] =
    `apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: podinfo\n  namespace: ${ns}\n`;
  files['deployment.yaml'] = [
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata:',
    '  name: podinfo',
    `  namespace: ${ns}`,
    'spec:',
    '  replicas: 1',
    '  selector:',
    '    matchLabels:',
    `      ${labels}`,
    '  template:',
    '    metadata:',
    '      labels:',
    `        ${labels}`,
    '    spec:',
    '      serviceAccountName: podinfo',
    '      containers:',
    '        - name: podinfo',
    '          image: ghcr.io/stefanprodan/podinfo:6.7.1',
    '          ports:',
    '            - containerPort: 9898',
    '              name: http',
    '          envFrom:',
    '            - configMapRef:',
    '                name: cm-1',
    '          resources:',
    '            requests:',
    '              cpu: 10m',
    '              memory: 16Mi',
    '',
  ].join('\n');
  files['service.yaml'] = [
    'apiVersion: v1',
    'kind: Service',
    'metadata:',
    '  name: podinfo',
    `  namespace: ${ns}`,
    'spec:',
    '  selector:',
    `    ${labels}`,
    '  ports:',
    '    - name: http',
    '      port: 9898',
    '      targetPort: http',
    '',
  ].join('\n');
  files['hpa.yaml'] = [
    'apiVersion: autoscaling/v2',
    'kind: HorizontalPodAutoscaler',
    'metadata:',
    '  name: podinfo',
    `  namespace: ${ns}`,
    'spec:',
    '  scaleTargetRef:',
    '    apiVersion: apps/v1',
    '    kind: Deployment',
    '    name: podinfo',
    '  minReplicas: 1',
    '  maxReplicas: 2',
    '  metrics:',
    '    - type: Resource',
    '      resource:',
    '        name: cpu',
    '        target:',
    '          type: Utilization',
    '          averageUtilization: 90',
    '',
  ].join('\n');
  for (let i = 1; i <= 5; i++) files[`cm-${i}.yaml`] = configMap(`cm-${i}`, ns, i);
  return files;
}

/** Namespace of Kustomization `i`. */
export const namespaceOf = (i: number): string => `bench-${i}`;

/** Files of the benchmark repository (path → content). */
export function repositoryFiles(opts: WorkloadOptions): Record<string, string> {
  const files: Record<string, string> = {};
  const put = (dir: string, ns: string): void => {
    for (const [name, text] of Object.entries(appFiles(opts.workload, ns))) files[`${dir}/${name}`] = text;
  };
  if (opts.layout === 'substitute') put('deploy', '${ns}');
  else for (let i = 0; i < opts.n; i++) put(`apps/ks-${i}`, namespaceOf(i));
  return files;
}

/** The GitRepository `bench` and Kustomizations `ks-0`…`ks-<n-1>` in namespace `flux-system`, as one YAML stream. */
export function manifests(opts: WorkloadOptions): string {
  const docs = [
    [
      'apiVersion: source.toolkit.fluxcd.io/v1',
      'kind: GitRepository',
      'metadata:',
      '  name: bench',
      '  namespace: flux-system',
      'spec:',
      `  interval: ${opts.interval}`,
      `  url: ${opts.url}`,
      '  ref:',
      '    branch: main',
      '',
    ].join('\n'),
  ];
  for (let i = 0; i < opts.n; i++) {
    const lines = [
      'apiVersion: kustomize.toolkit.fluxcd.io/v1',
      'kind: Kustomization',
      'metadata:',
      `  name: ks-${i}`,
      '  namespace: flux-system',
      'spec:',
      `  interval: ${opts.interval}`,
      `  path: ${opts.layout === 'substitute' ? './deploy' : `./apps/ks-${i}`}`,
      '  prune: true',
      `  wait: ${opts.wait}`,
      '  timeout: 5m',
      '  sourceRef:',
      '    kind: GitRepository',
      '    name: bench',
    ];
    if (opts.layout === 'substitute')
      lines.push('  postBuild:', '    substitute:', `      ns: ${namespaceOf(i)}`);
    docs.push(`${lines.join('\n')}\n`);
  }
  return docs.join('---\n');
}

/** The object whose drift is timed: a ConfigMap of Kustomization 0 and the value the tools apply to it. */
export const driftTarget = { namespace: namespaceOf(0), name: 'cm-1', field: 'index', applied: '1' };
