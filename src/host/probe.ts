import { request } from 'node:http';
import { connect } from 'node:net';
import type { AppProbe } from '../api/app.ts';

/** Resolves a probe's port (a number, or a name from `spec.ports`) against a replica's assigned ports. */
export function probePort(probe: AppProbe, ports: Record<string, number>): number | undefined {
  const port = probe.httpGet?.port ?? probe.tcpSocket?.port;
  return typeof port === 'number' ? port : port === undefined ? undefined : ports[port];
}

/**
 * Runs one probe against 127.0.0.1: an HTTP GET succeeds on a status in 200–399, a TCP probe when the
 * connection opens. Never throws; anything else (refused, timeout, other status) is a failure.
 */
export async function runProbe(probe: AppProbe, ports: Record<string, number>): Promise<boolean> {
  const port = probePort(probe, ports);
  if (port === undefined) return false;
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  if (probe.tcpSocket) return tcpProbe(port, timeoutMs);
  return httpProbe(port, probe.httpGet?.path ?? '/', timeoutMs);
}

function httpProbe(port: number, path: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      resolve(code >= 200 && code < 400);
    });
    req.on('timeout', () => req.destroy(new Error('probe timed out')));
    req.on('error', () => resolve(false));
    req.end();
  });
}

function tcpProbe(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, timeout: timeoutMs });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}
