import { spawn } from 'node:child_process';
import { locateHelm } from './helm-binary.ts';

/** Where a helm command talks to the cluster, and the scratch dirs it may write (cache, config, plugins). */
export interface HelmConnection {
  /** Kubeconfig file; none: helm's own defaults (in-cluster config, KUBECONFIG, ~/.kube/config). */
  kubeconfig?: string;
  kubeContext?: string;
  /** `--kube-as-user` (impersonation of `serviceAccountName`). */
  asUser?: string;
  /** `HELM_CACHE_HOME`, `HELM_CONFIG_HOME`, `HELM_DATA_HOME` root (never the user's own). */
  home: string;
  /** `HELM_PLUGINS`: where post-renderer plugins are looked up. */
  plugins?: string;
}

/** A helm command failed; `message` is helm's own error line(s) without the `Error: ` prefix. */
export class HelmCommandError extends Error {
  override name = 'HelmCommandError';
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly stdout: string,
  ) {
    super(message);
  }
}

/**
 * Runs `helm ARGS` with the secret storage driver and the connection's kubeconfig; resolves stdout. Helm's
 * stderr warnings are dropped on success; on failure its `Error:` lines become the error message.
 */
export async function runHelm(
  args: string[],
  connection: HelmConnection,
  options: { signal?: AbortSignal; stdin?: string } = {},
): Promise<string> {
  const helm = await locateHelm();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    HOME: connection.home,
    HELM_DRIVER: 'secret',
    HELM_CACHE_HOME: `${connection.home}/cache`,
    HELM_CONFIG_HOME: `${connection.home}/config`,
    HELM_DATA_HOME: `${connection.home}/data`,
    HELM_PLUGINS: connection.plugins ?? `${connection.home}/plugins`,
    // Helm reads KUBERNETES_SERVICE_* for the in-cluster config in operator mode.
    ...Object.fromEntries(
      Object.entries(process.env).filter(([k]) => k.startsWith('KUBERNETES_') || k === 'KUBECONFIG'),
    ),
  };
  const full = [...args];
  if (connection.kubeconfig) full.push('--kubeconfig', connection.kubeconfig);
  if (connection.kubeContext) full.push('--kube-context', connection.kubeContext);
  if (connection.asUser) full.push('--kube-as-user', connection.asUser);
  return new Promise((resolve, reject) => {
    const child = spawn(helm.file, full, { env, stdio: ['pipe', 'pipe', 'pipe'], signal: options.signal });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.stdin ?? '');
    child.once('error', (error) =>
      reject(new HelmCommandError(`cannot run helm: ${error.message}`, null, '')),
    );
    child.once('close', (code) => {
      const stdout = Buffer.concat(out).toString('utf8');
      if (code === 0) return resolve(stdout);
      reject(new HelmCommandError(helmErrorOf(Buffer.concat(err).toString('utf8'), code), code, stdout));
    });
  });
}

/** Helm's error text: the `Error:` line and what follows it, else the last stderr lines. */
export function helmErrorOf(stderr: string, code: number | null): string {
  const lines = stderr.split('\n').map((l) => l.trimEnd());
  const at = lines.findIndex((l) => l.startsWith('Error: '));
  const picked =
    at >= 0 ? lines.slice(at) : lines.filter((l) => l && !/^(WARNING|level=WARN)/.test(l)).slice(-3);
  const text = picked
    .join('\n')
    .replace(/^Error: /, '')
    .trim();
  return text || `helm exited with code ${code}`;
}
