import type { KObject } from '../api/meta.ts';
import {
  credentialsFromDockerConfig,
  DockerConfigError,
  type RegistryClientOptions,
} from '../source/oci/index.ts';
import type { Store } from '../store/store.ts';
import { authenticationFailed, proxyUrlFrom, sourceSecretData, type SourceRun } from './source-run.ts';

/** The spec fields that say how to reach a registry (OCIRepository's; HelmRepository `type: oci` has the same). */
export interface RegistryAccessSpec {
  secretRef?: { name: string };
  certSecretRef?: { name: string };
  proxySecretRef?: { name: string };
  insecure?: boolean;
}

/**
 * The registry client options of a source with its Secrets resolved, as Flux's source-controller reads them:
 * `secretRef` a docker config (`.dockerconfigjson`, or the older `.dockercfg`) with an entry for `registry`;
 * `certSecretRef` `ca.crt` and/or `tls.crt` + `tls.key`; `proxySecretRef` `address` (+ `username`/`password`).
 * A missing Secret or key is AuthenticationFailed naming it; no secret value ever goes into a message.
 */
export async function registryAccess<T extends KObject<unknown, object>>(
  store: Store,
  run: SourceRun<T & { status?: object }>,
  spec: RegistryAccessSpec,
  registry: string,
): Promise<RegistryClientOptions> {
  const options: RegistryClientOptions = { userAgent: 'kedge-source-controller' };
  const where = (name: string) => `'${run.ref.namespace}/${name}'`;
  if (spec.insecure) options.insecure = true;
  if (spec.secretRef) {
    const name = spec.secretRef.name;
    const data = await sourceSecretData(store, run, name, 'registry credentials');
    const config = data['.dockerconfigjson'] ?? data['.dockercfg'];
    if (config === undefined)
      throw authenticationFailed(
        run,
        `secret ${where(name)} has no '.dockerconfigjson' key: it must be of type kubernetes.io/dockerconfigjson (as 'kubectl create secret docker-registry' makes it)`,
      );
    try {
      const credentials = credentialsFromDockerConfig(config, registry);
      if (!credentials)
        throw authenticationFailed(
          run,
          `the docker config in secret ${where(name)} has no credentials for registry '${registry}'`,
        );
      options.credentials = credentials;
    } catch (error) {
      if (error instanceof DockerConfigError)
        throw authenticationFailed(run, `secret ${where(name)}: ${error.message}`);
      throw error;
    }
  }
  if (spec.certSecretRef) {
    const name = spec.certSecretRef.name;
    const data = await sourceSecretData(store, run, name, 'TLS');
    const ca = data['ca.crt'] ?? data.caFile;
    const cert = data['tls.crt'] ?? data.certFile;
    const key = data['tls.key'] ?? data.keyFile;
    if (!ca && !cert && !key)
      throw authenticationFailed(
        run,
        `TLS secret ${where(name)} has none of 'ca.crt', 'tls.crt' and 'tls.key'`,
      );
    if ((cert === undefined) !== (key === undefined))
      throw authenticationFailed(
        run,
        `TLS secret ${where(name)} has only one of 'tls.crt' and 'tls.key': a client certificate needs both`,
      );
    if (ca) options.ca = ca;
    if (cert && key) Object.assign(options, { cert, key });
  }
  if (spec.proxySecretRef) {
    const data = await sourceSecretData(store, run, spec.proxySecretRef.name, 'proxy');
    options.proxyUrl = proxyUrlFrom(data, run, spec.proxySecretRef.name);
  }
  return options;
}
