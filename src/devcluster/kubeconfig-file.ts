import { writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import type { ClientCredentials } from './api-probe.ts';

/** Name of the cluster, user and context in a dev cluster's kubeconfig. */
export const devClusterContext = 'kedge-dev';

/**
 * Writes a self-contained kubeconfig (certificates inlined, mode 0600) for `server` with the admin client
 * certificate, its current context named `kedge-dev`.
 */
export async function writeKubeconfig(
  path: string,
  server: string,
  credentials: ClientCredentials,
): Promise<void> {
  const b64 = (pem: string): string => Buffer.from(pem).toString('base64');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: devClusterContext, cluster: { server, 'certificate-authority-data': b64(credentials.ca) } },
    ],
    users: [
      {
        name: devClusterContext,
        user: { 'client-certificate-data': b64(credentials.cert), 'client-key-data': b64(credentials.key) },
      },
    ],
    contexts: [{ name: devClusterContext, context: { cluster: devClusterContext, user: devClusterContext } }],
    'current-context': devClusterContext,
  };
  await writeFile(path, stringify(config), { mode: 0o600 });
}
