import { createHash } from 'node:crypto';
import type { AppProbe } from '../api/app.ts';

/** Everything a replica's process is started from; like a pod template, one hash per distinct template. */
export interface ReplicaTemplate {
  revision: string;
  releaseKey: string;
  /** Absolute working directory inside the release. */
  cwd: string;
  /** The command, wrapped for the memory limit when one is enforced. */
  argv: string[];
  /** Resolved environment, without the per-replica ports. */
  env: Record<string, string>;
  portNames: string[];
  readinessProbe?: AppProbe;
  livenessProbe?: AppProbe;
  terminationGraceMs: number;
}

/**
 * A short hash of the template: equal templates, equal hashes. Environment values are hashed, never stored,
 * so a changed Secret rolls the App without the value reaching the registry or status.
 */
export function templateHash(template: ReplicaTemplate): string {
  const canonical = JSON.stringify([
    template.releaseKey,
    template.cwd,
    template.argv,
    Object.entries(template.env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    template.portNames,
    template.readinessProbe ?? null,
    template.livenessProbe ?? null,
    template.terminationGraceMs,
  ]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 10);
}

/** `$PORT` (the first port) and `$PORT_<NAME>` for every named port. */
export function portEnv(ports: Record<string, number>, names: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  names.forEach((name, i) => {
    const port = ports[name];
    if (port === undefined) return;
    if (i === 0) env.PORT = String(port);
    env[`PORT_${name.toUpperCase().replaceAll('-', '_')}`] = String(port);
  });
  return env;
}
