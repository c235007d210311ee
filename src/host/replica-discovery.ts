import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { processStartTime, processStat, type ProcessIdentity } from './process-identity.ts';

/**
 * The environment variable every replica carries: `<data-dir id>/<namespace>/<app>/<index>`. With it an engine
 * finds the replicas of its data dir from `/proc` alone, when `host/replicas.json` is lost or unreadable.
 */
export const ReplicaMarkerEnv = 'KEDGE_REPLICA_ID';

/** A short stable id of a data dir (hash of its real path), so that engines on other data dirs never match. */
export function dataDirId(dataDir: string): string {
  let path = resolve(dataDir);
  try {
    path = realpathSync(path);
  } catch {
    // not created yet: the resolved path is what it will be
  }
  return createHash('sha256').update(path).digest('hex').slice(0, 16);
}

/** The marker value of one replica. Namespaces and App names never hold `/`, so it splits back unambiguously. */
export function replicaMarker(dataDir: string, namespace: string, app: string, index: number): string {
  return `${dataDirId(dataDir)}/${namespace}/${app}/${index}`;
}

/** A running process that carries the marker of this data dir and leads its own process group. */
export interface DiscoveredReplica extends ProcessIdentity {
  namespace: string;
  app: string;
  index: number;
}

/**
 * Every replica of `dataDir` running on this host, found by scanning `/proc`: process group leaders (a replica
 * is started as its own group, so children that inherited the variable are skipped) whose initial environment
 * holds the data dir's marker. Undefined when `/proc` cannot be read (not Linux): then nothing can be found.
 * Processes of other users are skipped (their environment is unreadable, and they are no replicas of ours).
 */
export function discoverReplicas(dataDir: string): DiscoveredReplica[] | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((name) => /^[0-9]+$/.test(name));
  } catch {
    return undefined;
  }
  const prefix = `${ReplicaMarkerEnv}=${dataDirId(dataDir)}/`;
  const found: DiscoveredReplica[] = [];
  for (const entry of entries) {
    const pid = Number(entry);
    if (pid === process.pid || processStat(pid)?.pgrp !== pid) continue;
    let environ: string;
    try {
      environ = readFileSync(`/proc/${pid}/environ`, 'latin1');
    } catch {
      continue;
    }
    const marker = environ.split('\0').find((v) => v.startsWith(prefix));
    const parts = marker?.slice(prefix.length).split('/');
    if (parts?.length !== 3 || !/^[0-9]+$/.test(parts[2]!)) continue;
    const startTime = processStartTime(pid);
    if (startTime === undefined) continue;
    found.push({ pid, startTime, namespace: parts[0]!, app: parts[1]!, index: Number(parts[2]) });
  }
  return found;
}
