import {
  connect,
  credsAuthenticator,
  errors,
  nkeyAuthenticator,
  nkeys,
  usernamePasswordAuthenticator,
  type Authenticator,
  type NatsConnection,
  type NodeConnectionOptions,
} from '@nats-io/transport-node';
import { DeliveryError } from './delivery-error.ts';
import type { Notifier, NotifierConfig } from './notifier.ts';

/** The client name the server shows for the publisher's connection (Flux's). */
const CLIENT_NAME = 'NATS Provider Publisher';

/** The servers of a NATS address: one URL or a comma-separated list (`nats://a:4222,nats://b:4222`). */
export function natsServers(address: string): string[] {
  return address
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** A server URL safe for messages: scheme, host and port (never `user:pass@`). */
function serverName(server: string): string {
  try {
    const url = new URL(server.includes('://') ? server : `nats://${server}`);
    return `${url.protocol}//${url.host}`;
  } catch {
    return '<invalid address>';
  }
}

/**
 * The authenticator from the Provider's secret, in Flux's order: `creds` (a user JWT credentials file),
 * then `nkey` (an NKey seed), then `username` and `password`; none when the secret has none of them.
 */
function authenticator(config: NotifierConfig): Authenticator | undefined {
  const { creds, nkey } = config.nats ?? {};
  if (creds) return credsAuthenticator(new TextEncoder().encode(creds));
  if (nkey) return nkeyAuthenticator(new TextEncoder().encode(nkey.trim()));
  const username = config.basicAuth?.username ?? config.username;
  if (username && config.password) return usernamePasswordAuthenticator(username, config.password);
  return undefined;
}

/**
 * `nats`: publishes the Flux event JSON (as `generic` posts it) to the subject `channel` on the NATS server
 * `address`, over a connection opened for the event and closed after the server acknowledged it (a flush).
 * Auth from the secret as Flux reads it; `certSecretRef`'s CA is trusted for `tls://` servers.
 */
export function natsNotifier(config: NotifierConfig): Notifier {
  const servers = natsServers(config.address);
  if (servers.length === 0) throw new DeliveryError('NATS server (address) cannot be empty', false);
  const subject = config.channel?.trim() ?? '';
  if (!subject) throw new DeliveryError('NATS subject (channel) cannot be empty', false);
  const seed = config.nats?.creds ? undefined : config.nats?.nkey;
  if (seed) {
    try {
      nkeys.fromSeed(new TextEncoder().encode(seed.trim()));
    } catch (error) {
      throw new DeliveryError(
        `invalid 'nkey' in the secret: not an NKey seed (${credentialProblem(error)})`,
        false,
      );
    }
  }
  const where = servers.map(serverName).join(',');
  return {
    async post(event, signal) {
      const payload = JSON.stringify(event);
      let auth: Authenticator | undefined;
      try {
        auth = authenticator(config);
      } catch (error) {
        throw new DeliveryError(
          `invalid NATS credentials in the secret (${credentialProblem(error)})`,
          false,
        );
      }
      const options: NodeConnectionOptions = {
        servers,
        name: CLIENT_NAME,
        timeout: config.http.timeoutMs,
        reconnect: false,
        maxReconnectAttempts: 0,
        ...(auth ? { authenticator: auth } : {}),
        ...(config.http.ca ? { tls: { ca: config.http.ca } } : {}),
      };
      let nc: NatsConnection;
      const connecting = connect(options);
      try {
        nc = await abortable(connecting, signal, config.http.timeoutMs);
      } catch (error) {
        // A connection that completes after the deadline is closed at once, never left open.
        connecting
          .then(
            (late) => late.close(),
            () => undefined,
          )
          .catch(() => undefined);
        throw failure(`error connecting to NATS server ${where}`, error);
      }
      const asyncErrors: Error[] = [];
      void (async () => {
        for await (const status of nc.status()) if (status.type === 'error') asyncErrors.push(status.error);
      })();
      try {
        nc.publish(subject, payload);
        await abortable(nc.flush(), signal, config.http.timeoutMs);
        // The server's -ERR for the publish came before the flush's PONG; its status reaches the loop above
        // through promise jobs only, which have all run by the next turn of the event loop.
        await new Promise((resolve) => setImmediate(resolve));
        const rejected = asyncErrors[0];
        if (rejected) throw rejected;
      } catch (error) {
        throw failure(`error publishing event to subject ${subject} on ${where}`, error);
      } finally {
        await nc.close().catch(() => undefined);
      }
    },
  };
}

/** The NKey/creds parser's complaint without the material itself. */
function credentialProblem(error: unknown): string {
  const code = (error as { code?: string }).code;
  return code ?? (error instanceof Error ? error.name : 'unreadable');
}

/** A DeliveryError for a NATS failure: authorization and permission errors are not retried, the rest are. */
function failure(what: string, error: unknown): DeliveryError {
  if (error instanceof DeliveryError)
    return new DeliveryError(`${what}: ${error.message}`, error.retryable, undefined, { cause: error });
  const permanent =
    error instanceof errors.AuthorizationError || error instanceof errors.PermissionViolationError;
  const detail = error instanceof Error ? error.message : String(error);
  return new DeliveryError(`${what}: ${detail}`, !permanent, undefined, { cause: error });
}

/** `work`, failing when the signal aborts or the Provider's timeout passes first. */
function abortable<T>(work: Promise<T>, signal: AbortSignal | undefined, timeoutMs: number): Promise<T> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const all = signal ? AbortSignal.any([signal, timeout]) : timeout;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () =>
      reject(
        new DeliveryError(timeout.aborted ? `timed out after ${timeoutMs} ms` : 'cancelled', timeout.aborted),
      );
    if (all.aborted) return onAbort();
    all.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => all.removeEventListener('abort', onAbort));
  });
}
