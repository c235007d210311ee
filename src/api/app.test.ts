import { describe, expect, it } from 'vitest';
import { ManifestError, parseManifests } from './manifest.ts';

const app = (spec: string) => `apiVersion: kedge.dev/v1alpha1
kind: App
metadata: {name: hello, namespace: default}
spec:
${spec}`;

function problemsOf(text: string): string[] {
  try {
    parseManifests(text, 'app.yaml');
  } catch (error) {
    if (error instanceof ManifestError) return error.message.split('\n').map((l) => l.replace(/^app\.yaml: document 1 \(App default\/hello\): /, ''));
    throw error;
  }
  return [];
}

describe('App schema', () => {
  it('accepts the full Deployment-shaped spec', () => {
    const spec = `  replicas: 2
  workingDir: apps/hello
  setup: ["npm", "ci"]
  command: ["node", "server.js"]
  env:
    - {name: GREETING, value: hello}
    - name: TOKEN
      valueFrom: {secretKeyRef: {name: hello-secrets, key: token}}
  envFrom: [{configMapRef: {name: hello-config}, prefix: CFG_}]
  ports: [{name: http}]
  expose: {port: 8080}
  readinessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 1, failureThreshold: 3}
  livenessProbe:  {tcpSocket: {port: http}, periodSeconds: 5}
  strategy: {maxSurge: 1, maxUnavailable: 25%}
  terminationGracePeriodSeconds: 10
  progressDeadlineSeconds: 60
  resources: {limits: {memory: 256Mi}}
`;
    expect(problemsOf(app(spec))).toEqual([]);
  });

  it.each([
    ['unknown field', '  command: [node]\n  image: nginx\n', ["spec: unknown field 'image'"]],
    ['no command', '  replicas: 1\n', ['spec.command: must list the program and its arguments, e.g. ["node", "server.js"]']],
    ['probe on an unknown port', '  command: [node]\n  ports: [{name: http}]\n  readinessProbe: {httpGet: {path: /, port: web}}\n', ["spec.readinessProbe.httpGet.port: names no port in spec.ports: 'web'"]],
    ['expose without ports', '  command: [node]\n  expose: {port: 8080}\n', ['spec.expose: needs a port in spec.ports to send connections to']],
    ['bad memory', '  command: [node]\n  resources: {limits: {memory: lots}}\n', ['spec.resources.limits.memory: must be a quantity such as 256Mi or 1Gi']],
    ['value and valueFrom', '  command: [node]\n  env: [{name: A, value: x, valueFrom: {configMapKeyRef: {name: c, key: k}}}]\n', ['spec.env.0: must not set both value and valueFrom']],
    ['duplicate ports', '  command: [node]\n  ports: [{name: http}, {name: http}]\n', ["spec.ports.1.name: duplicate port name 'http'"]],
  ])('%s', (_name, spec, problems) => {
    expect(problemsOf(app(spec))).toEqual(problems);
  });
});
