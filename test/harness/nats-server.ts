import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import { eventually } from './eventually.ts';
import { freePort } from './git-servers.ts';
import { trackedSpawn } from './tracked-process.ts';

/** The server lives as long as its handle; its fallback cleanup is the test file's end. */
const spawn = trackedSpawn('file');

/** Who may connect: a user with a password, or an NKey user by its public key (`U…`). */
export type NatsUser = { user: string; password: string; denyPublish?: string[] } | { nkey: string };

/** A real NATS server on 127.0.0.1. */
export interface NatsServer {
  /** `nats://127.0.0.1:<port>`, as a Provider's `address` takes it. */
  url: string;
  /** A client connection as `user` (the first configured user when omitted), e.g. to subscribe. */
  connect(options?: Partial<ConnectionOptions>): Promise<NatsConnection>;
  stop(): Promise<void>;
}

let binary: string | undefined;

/** scripts/build-nats-server.sh builds nats-server once (install-test-prerequisites.sh does it before the tests). */
function serverBinary(): string {
  binary ??= execFileSync('bash', [join(import.meta.dirname, '../../scripts/build-nats-server.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  return binary;
}

/** Decentralized (JWT) auth: the operator's JWT and the account JWTs the server trusts, by account public key. */
export interface NatsOperator {
  operatorJwt: string;
  accounts: Record<string, string>;
  /** How the harness's own clients authenticate (e.g. a creds authenticator). */
  client: Partial<ConnectionOptions>;
}

/** nats-server's config: loopback, the port, and an authorization block when users are given. */
function configText(port: number, users: NatsUser[], operator?: NatsOperator): string {
  const lines = ['listen: "127.0.0.1:' + String(port) + '"'];
  if (operator) {
    const preload = Object.entries(operator.accounts).map(([key, jwt]) => `  ${key}: ${JSON.stringify(jwt)}`);
    lines.push(
      `operator: ${JSON.stringify(operator.operatorJwt)}`,
      'resolver: MEMORY',
      'resolver_preload: {',
      ...preload,
      '}',
    );
  }
  if (users.length > 0) {
    const entries = users.map((u) =>
      'nkey' in u
        ? `{ nkey: ${JSON.stringify(u.nkey)} }`
        : `{ user: ${JSON.stringify(u.user)}, password: ${JSON.stringify(u.password)}${
            u.denyPublish ? `, permissions: { publish: { deny: ${JSON.stringify(u.denyPublish)} } }` : ''
          } }`,
    );
    lines.push(`authorization { users: [ ${entries.join(', ')} ] }`);
  }
  return `${lines.join('\n')}\n`;
}

/** Starts nats-server on a free loopback port; with `users`, only they may connect. */
export async function startNatsServer(
  options: { users?: NatsUser[]; operator?: NatsOperator } = {},
): Promise<NatsServer> {
  const users = options.users ?? [];
  const root = mkdtempSync(join(tmpdir(), 'kedge-nats-'));
  const port = await freePort();
  const config = join(root, 'nats.conf');
  writeFileSync(config, configText(port, users, options.operator));
  const child = spawn(serverBinary(), ['-c', config], {
    detached: true,
    stdio: 'ignore',
    env: { PATH: process.env.PATH },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await exited;
    }
    rmSync(root, { recursive: true, force: true });
  };
  const url = `nats://127.0.0.1:${port}`;
  const first = users.find((u): u is { user: string; password: string } => 'user' in u);
  const clientOptions = (over: Partial<ConnectionOptions> = {}): ConnectionOptions => ({
    servers: url,
    reconnect: false,
    ...(first ? { user: first.user, pass: first.password } : {}),
    ...options.operator?.client,
    ...over,
  });
  try {
    const probe = await eventually(() => connect(clientOptions()), { what: `NATS server on ${url}` });
    await probe.close();
    return { url, connect: (over) => connect(clientOptions(over)), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
