import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { serviceAccountFile } from '../../store/kubernetes/service-account-files.ts';
import { httpUrl, type ListenAddress } from '../../web/listen-address.ts';

/** The Service `kedge install` puts in front of the artifact server (Flux's name for it). */
export const ArtifactServiceName = 'source-controller';

export interface AdvertisedUrlOptions {
  /** `--storage-adv-addr`: `host` or `host:port` (no port: 80, as the Service). */
  advertised?: string;
  /** Where the artifact server listens, its port resolved (`--storage-addr`). */
  bound: ListenAddress;
  /** The process environment (KUBERNETES_SERVICE_HOST, RUNTIME_NAMESPACE). Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Reads the service account's namespace file; default the file every pod has. */
  podNamespace?: () => string | undefined;
}

/**
 * The base URL written into every artifact's `status.artifact.url`, after Flux's source-controller
 * (`--storage-adv-addr`): the advertised address when given; in a pod, the artifact Service `kedge install`
 * creates (`source-controller.<namespace>.svc.cluster.local.`, namespace from `RUNTIME_NAMESPACE` or the service
 * account), since a pod's own address is not what other pods should fetch from; elsewhere the bound address, with
 * this machine's host name for an unspecified host (0.0.0.0, ::), which no client can connect to.
 */
export function advertisedArtifactUrl(options: AdvertisedUrlOptions): string {
  const env = options.env ?? process.env;
  if (options.advertised !== undefined) return urlOfAddress(options.advertised);
  if (env.KUBERNETES_SERVICE_HOST) {
    const namespace = env.RUNTIME_NAMESPACE || (options.podNamespace ?? readPodNamespace)();
    if (namespace) return `http://${ArtifactServiceName}.${namespace}.svc.cluster.local.`;
  }
  const { host, port } = options.bound;
  return httpUrl(unspecified(host) ? hostname() : host, port);
}

/** `host`, `host:port` or `[v6]:port` as an http base URL; throws on anything else (a URL, a path). */
export function urlOfAddress(address: string): string {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+))(?::(\d{1,5}))?$/.exec(address);
  const port = match?.[3] === undefined ? undefined : Number(match[3]);
  const host = match?.[1] ?? match?.[2];
  if (!match || !host || (port !== undefined && (port < 1 || port > 65535)) || unspecified(host))
    throw new Error(
      `--storage-adv-addr '${address}' is not a host or host:port that clients can reach (e.g. kedge.kedge-system.svc.cluster.local.)`,
    );
  const inUrl = host.includes(':') ? `[${host}]` : host;
  return port === undefined ? `http://${inUrl}` : `http://${inUrl}:${port}`;
}

function unspecified(host: string): boolean {
  return host === '' || host === '0.0.0.0' || host === '::' || host === '[::]';
}

function readPodNamespace(): string | undefined {
  try {
    return readFileSync(serviceAccountFile('namespace'), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
