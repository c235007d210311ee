import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClusterLayout } from './cluster-layout.ts';
import { startControlPlaneProcess, type ControlPlaneProcess } from './control-plane-process.ts';
import { DevClusterError } from './dev-cluster-error.ts';
import { freeLoopbackPort } from './free-port.ts';

/** A running single-member etcd, reachable over plain HTTP on loopback only. */
export interface EtcdProcess extends ControlPlaneProcess {
  clientUrl: string;
  clientPort: number;
  peerPort: number;
}

const attempts = 3;

/**
 * Starts etcd on two free loopback ports (client, peer) with an empty data dir and `--unsafe-no-fsync`
 * (the data is thrown away at stop), and waits for `/health`. A port taken between picking and binding is
 * retried with new ports, up to three times.
 */
export async function startEtcd(layout: ClusterLayout, binary: string): Promise<EtcdProcess> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const clientPort = await freeLoopbackPort();
    const peerPort = await freeLoopbackPort();
    if (clientPort === peerPort) continue;
    await rm(layout.etcdData, { recursive: true, force: true });
    await mkdir(layout.etcdData, { recursive: true, mode: 0o700 });
    const clientUrl = `http://127.0.0.1:${clientPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    try {
      const started = await startControlPlaneProcess({
        name: 'etcd',
        binary,
        args: [
          '--name=kedge-dev',
          `--data-dir=${layout.etcdData}`,
          `--listen-client-urls=${clientUrl}`,
          `--advertise-client-urls=${clientUrl}`,
          `--listen-peer-urls=${peerUrl}`,
          `--initial-advertise-peer-urls=${peerUrl}`,
          `--initial-cluster=kedge-dev=${peerUrl}`,
          '--initial-cluster-state=new',
          '--unsafe-no-fsync',
          '--log-level=warn',
        ],
        logFile: join(layout.logs, 'etcd.log'),
        pidFile: layout.pidFiles.etcd,
        ready: async () => {
          const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(2_000) });
          return res.ok && ((await res.json()) as { health?: string }).health === 'true';
        },
      });
      return { ...started, clientUrl, clientPort, peerPort };
    } catch (error) {
      lastError = error;
      if (!(error instanceof DevClusterError) || !/address already in use/.test(error.message)) throw error;
    }
  }
  throw lastError instanceof Error
    ? lastError
    : new DevClusterError('ProcessFailed', 'etcd could not bind free ports');
}
