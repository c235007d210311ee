import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { encodeAccount, encodeOperator, encodeUser, fmtCreds } from '@nats-io/jwt';
import { credsAuthenticator, nkeys, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Condition } from '../src/api/meta.ts';
import { startEngine, type Engine } from '../src/engine.ts';
import { DeliveryError } from '../src/notify/delivery-error.ts';
import type { FluxEvent } from '../src/notify/flux-event.ts';
import { createNotifier } from '../src/notify/notifier-factory.ts';
import type { NotifierConfig } from '../src/notify/notifier.ts';
import { createLogger } from '../src/runtime/logger.ts';
import { eventually } from './harness/eventually.ts';
import { createRepo, type TestRepo } from './harness/git-repo.ts';
import { startNatsServer, type NatsServer } from './harness/nats-server.ts';
import { manifests } from './notify-endpoint.ts';

// The `nats` Provider against a real nats-server on loopback (scripts/build-nats-server.sh): a subscriber
// receives the Flux event JSON on the Provider's subject; the secret's username/password and NKey seed
// authenticate; a refused login or publish is a failed delivery that names the cause and leaks no secret.

const PASSWORD = 'nats-secret-password';
const WRONG_PASSWORD = 'nats-wrong-password';
const nkeyUser = nkeys.createUser();
const NKEY_SEED = new TextDecoder().decode(nkeyUser.getSeed());

let server: NatsServer;
let subscriber: NatsConnection;
const received: { subject: string; data: string }[] = [];
beforeAll(async () => {
  server = await startNatsServer({
    users: [
      { user: 'flux', password: PASSWORD },
      { user: 'readonly', password: PASSWORD, denyPublish: ['>'] },
      { nkey: nkeyUser.getPublicKey() },
    ],
  });
  subscriber = await server.connect();
  subscriber.subscribe('flux.>', {
    callback: (_err, msg) => void received.push({ subject: msg.subject, data: msg.string() }),
  });
  await subscriber.flush();
});
afterAll(async () => {
  await subscriber?.close();
  await server?.stop();
});

const event = (over: Partial<FluxEvent> = {}): FluxEvent => ({
  involvedObject: {
    kind: 'Kustomization',
    namespace: 'apps',
    name: 'podinfo',
    uid: 'b2d1c7e0-0000-4000-8000-000000000001',
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
  },
  severity: 'info',
  timestamp: '2026-01-02T03:04:05Z',
  message: 'Deployment/apps/podinfo configured',
  reason: 'ReconciliationSucceeded',
  metadata: { 'kustomize.toolkit.fluxcd.io/revision': 'main@sha1:0123456789abcdef0123456789abcdef01234567' },
  reportingController: 'kustomize-controller',
  reportingInstance: 'kedge-test',
  ...over,
});

const config = (extra: Partial<NotifierConfig>): NotifierConfig => ({
  type: 'nats',
  address: server.url,
  channel: 'flux.events',
  provider: { namespace: 'apps', name: 'nats' },
  http: { timeoutMs: 10_000 },
  ...extra,
});

/** Publishes and waits until the subscriber has the message (the subscriber's own round trip orders it). */
async function publish(cfg: NotifierConfig, e: FluxEvent) {
  const before = received.length;
  await createNotifier(cfg).post(e);
  await subscriber.flush();
  return received.slice(before);
}

describe('nats provider', () => {
  it('publishes exactly the Flux event JSON on the subject, as user and password', async () => {
    const e = event();
    const got = await publish(
      config({ basicAuth: { username: 'flux', password: PASSWORD }, password: PASSWORD }),
      e,
    );
    expect(got).toEqual([{ subject: 'flux.events', data: JSON.stringify(e) }]);
    expect(JSON.parse(got[0]!.data)).toEqual(e);
  });

  it('authenticates with the NKey seed of the secret', async () => {
    const e = event({ severity: 'error', reason: 'HealthCheckFailed', message: 'health check failed' });
    const got = await publish(config({ channel: 'flux.nkey', nats: { nkey: NKEY_SEED } }), e);
    expect(got).toEqual([{ subject: 'flux.nkey', data: JSON.stringify(e) }]);
  });

  it('authenticates with the user credentials (creds) of the secret against a server in operator (JWT) mode', async () => {
    const operatorKey = nkeys.createOperator();
    const accountKey = nkeys.createAccount();
    const userKey = nkeys.createUser();
    const operatorJwt = await encodeOperator('kedge-test', operatorKey);
    const accountJwt = await encodeAccount(
      'flux',
      accountKey,
      {
        limits: {
          conn: -1,
          subs: -1,
          data: -1,
          payload: -1,
          imports: -1,
          exports: -1,
          wildcards: true,
          leaf: -1,
        },
      },
      { signer: operatorKey },
    );
    const creds = new TextDecoder().decode(
      fmtCreds(await encodeUser('notifier', userKey, accountKey), userKey),
    );
    const jwtServer = await startNatsServer({
      operator: {
        operatorJwt,
        accounts: { [accountKey.getPublicKey()]: accountJwt },
        client: { authenticator: credsAuthenticator(new TextEncoder().encode(creds)) },
      },
    });
    const listener = await jwtServer.connect();
    try {
      const got: string[] = [];
      listener.subscribe('flux.creds', { callback: (_err, msg) => void got.push(msg.string()) });
      await listener.flush();
      const e = event();
      await createNotifier(config({ address: jwtServer.url, channel: 'flux.creds', nats: { creds } })).post(
        e,
      );
      await listener.flush();
      expect(got).toEqual([JSON.stringify(e)]);
      // Without the creds the same server refuses the publisher.
      const refused = await failureOf(
        createNotifier(config({ address: jwtServer.url, channel: 'flux.creds' })).post(e),
      );
      expect(refused.message).toMatch(/Authorization Violation/);
    } finally {
      await listener.close();
      await jwtServer.stop();
    }
  });

  it('a wrong password is a permanent failure naming the server, without the password', async () => {
    const error = await failureOf(
      createNotifier(
        config({ basicAuth: { username: 'flux', password: WRONG_PASSWORD }, password: WRONG_PASSWORD }),
      ).post(event()),
    );
    expect(error.message).toMatch(
      new RegExp(`^error connecting to NATS server ${server.url.replace(/\./g, '\\.')}: .*[Aa]uthorization`),
    );
    expect(error.retryable).toBe(false);
    expect(error.message).not.toContain(WRONG_PASSWORD);
  });

  it('a publish the server denies is a failed delivery, not a silent drop', async () => {
    const before = received.length;
    const error = await failureOf(
      createNotifier(
        config({ basicAuth: { username: 'readonly', password: PASSWORD }, password: PASSWORD }),
      ).post(event()),
    );
    expect(error.message).toMatch(
      /^error publishing event to subject flux\.events on nats:\/\/127\.0\.0\.1:\d+: .*[Pp]ermissions [Vv]iolation/,
    );
    expect(error.retryable).toBe(false);
    await subscriber.flush();
    expect(received.length).toBe(before);
  });

  it('a server that is not listening is a retryable failure', async () => {
    const down = await startNatsServer();
    const address = down.url;
    await down.stop();
    const error = await failureOf(createNotifier(config({ address })).post(event()));
    expect(error.message).toMatch(/^error connecting to NATS server nats:\/\/127\.0\.0\.1:\d+: /);
    expect(error.retryable).toBe(true);
  });
});

describe('nats provider in the engine', () => {
  let engine: Engine;
  let dataDir: string;
  let repo: TestRepo;
  const logged: Buffer[] = [];
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'kedge-notify-nats-'));
    const destination = new PassThrough();
    destination.on('data', (chunk: Buffer) => logged.push(chunk));
    const any = { host: '127.0.0.1', port: 0 };
    engine = await startEngine({
      dataDir,
      storageAddress: any,
      metricsAddress: any,
      receiverAddress: any,
      log: createLogger({ level: 'debug', format: 'json', destination }),
      shutdownGraceMs: 2000,
    });
    repo = createRepo({ files: { 'app.yaml': 'a: 1\n' } });
  });
  afterAll(async () => {
    await engine?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    if (repo) rmSync(dirname(repo.dir), { recursive: true, force: true });
  });

  const conditionsOf = async (name: string) =>
    (
      (await engine.store.get({ kind: 'Provider', namespace: 'default', name }))?.status as
        { conditions?: Condition[] } | undefined
    )?.conditions ?? [];

  it('delivers a GitRepository event to the subject, and a wrong password makes the Provider Ready=False', async () => {
    for (const object of [
      manifests.secret('nats-good', { username: 'flux', password: PASSWORD }),
      manifests.provider('nats-good', {
        type: 'nats',
        address: server.url,
        channel: 'flux.engine',
        secretRef: { name: 'nats-good' },
      }),
      manifests.secret('nats-bad', { username: 'flux', password: WRONG_PASSWORD }),
      manifests.provider('nats-bad', {
        type: 'nats',
        address: server.url,
        channel: 'flux.engine',
        secretRef: { name: 'nats-bad' },
      }),
      manifests.provider('nats-no-subject', { type: 'nats', address: server.url }),
      manifests.secret('nats-bad-seed', { nkey: 'SUNOTASEED' }),
      manifests.provider('nats-bad-seed', {
        type: 'nats',
        address: server.url,
        channel: 'flux.engine',
        secretRef: { name: 'nats-bad-seed' },
      }),
      manifests.alert('to-nats-good', 'nats-good'),
      manifests.alert('to-nats-bad', 'nats-bad'),
    ]) {
      await engine.store.apply(object);
    }
    await engine.store.apply(manifests.gitRepository('app', repo.url));
    const commit = repo.revParse();

    const message = await eventually(() => received.find((m) => m.subject === 'flux.engine'), {
      what: 'the event on flux.engine',
    });
    const delivered = JSON.parse(message.data) as FluxEvent;
    expect(delivered).toMatchObject({
      involvedObject: {
        kind: 'GitRepository',
        namespace: 'default',
        name: 'app',
        apiVersion: 'source.toolkit.fluxcd.io/v1',
      },
      severity: 'info',
      reportingController: 'source-controller',
    });
    expect(Object.values(delivered.metadata ?? {}).join(' ')).toContain(commit);

    const failed = await eventually(
      async () =>
        (await conditionsOf('nats-bad')).find((c) => c.type === 'DeliveryFailed' && c.status === 'True'),
      { what: 'nats-bad DeliveryFailed' },
    );
    expect(failed.message).toMatch(
      /failed to send notification for GitRepository\/default\/app: error connecting to NATS server \S+: Authorization Violation$/,
    );
    const ready = await eventually(
      async () => (await conditionsOf('nats-bad')).find((c) => c.type === 'Ready' && c.status === 'False'),
      { what: 'nats-bad Ready=False' },
    );
    expect(ready.message).toContain('Authorization');
    expect((await conditionsOf('nats-good')).find((c) => c.type === 'DeliveryFailed')).toBeUndefined();

    const readyOf = (name: string) =>
      eventually(
        async () => (await conditionsOf(name)).find((c) => c.type === 'Ready' && c.status === 'False'),
        {
          what: `${name} Ready=False`,
        },
      );
    expect((await readyOf('nats-no-subject')).message).toContain('NATS subject (channel) cannot be empty');
    const badSeed = await readyOf('nats-bad-seed');
    expect(badSeed.message).toContain("invalid 'nkey' in the secret: not an NKey seed");
    expect(badSeed.message).not.toContain('SUNOTASEED');

    const events = await eventually(
      async () => {
        const list = await engine.store.listEvents({ kind: 'Provider', name: 'nats-bad' });
        return list.length > 0 ? list : undefined;
      },
      { what: 'nats-bad warning event' },
    );
    await engine.stop();
    const logs = Buffer.concat(logged).toString('utf8');
    expect(logs).toContain('failed to send notification');
    const texts = [failed.message, ready.message, ...events.map((e) => e.message), logs];
    for (const text of texts) {
      expect(text).not.toContain(WRONG_PASSWORD);
      expect(text).not.toContain(PASSWORD);
    }
    for (const file of filesUnder(dataDir)) {
      const content = readFileSync(file).toString('latin1');
      for (let at = content.indexOf(WRONG_PASSWORD); at >= 0; at = content.indexOf(WRONG_PASSWORD, at + 1)) {
        // The Secret itself is stored (the object and the store's change log); any other copy is a leak.
        expect(content.slice(Math.max(0, at - 80), at)).toMatch(
          /"stringData":\{"username":"flux","password":"$/,
        );
      }
    }
  });
});

/** The DeliveryError a post failed with; fails the test when it succeeded. */
async function failureOf(post: Promise<void>): Promise<DeliveryError> {
  try {
    await post;
  } catch (error) {
    expect(error).toBeInstanceOf(DeliveryError);
    return error as DeliveryError;
  }
  throw new Error('the post succeeded');
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}
