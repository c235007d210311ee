import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Condition } from '../src/api/meta.ts';
import { startEngine, type Engine } from '../src/engine.ts';
import { createLogger } from '../src/runtime/logger.ts';
import { createRepo, type TestRepo } from './harness/git-repo.ts';
import { generateTlsPki } from './harness/git-servers.ts';
import { eventually } from './harness/eventually.ts';
import { manifests, startEndpoint, type TestEndpoint } from './notify-endpoint.ts';

// Providers whose credentials travel in the URL (Telegram's bot token in the path, Sentry's key in the DSN)
// or in headers fail against a refusing endpoint: the failure is visible on the Provider, and no secret
// reaches its status, its events, the engine's log or any file in the data dir.

const SECRETS = {
  telegram: '777000:telegram-bot-secret',
  sentry: 'sentrypublicsecret',
  zulip: 'zulip-api-key-secret',
  opsgenie: 'genie-secret-key',
};

let engine: Engine;
let endpoint: TestEndpoint;
let dataDir: string;
let repo: TestRepo;
const logged: Buffer[] = [];
beforeAll(async () => {
  endpoint = await startEndpoint(() => 401);
  dataDir = mkdtempSync(join(tmpdir(), 'kedge-notify-secrets-'));
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
  await endpoint?.stop();
  rmSync(dataDir, { recursive: true, force: true });
  if (repo) rmSync(dirname(repo.dir), { recursive: true, force: true });
});

const conditionsOf = async (name: string) =>
  (
    (await engine.store.get({ kind: 'Provider', namespace: 'default', name }))?.status as
      { conditions?: Condition[] } | undefined
  )?.conditions ?? [];

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe('provider secrets', () => {
  it('a git host behind a private CA: gitea takes ca.crt from its credentials secret, gitlab its password as token', async () => {
    const pkiDir = mkdtempSync(join(tmpdir(), 'kedge-notify-pki-'));
    const pki = generateTlsPki(pkiDir);
    const host = await startEndpoint(() => 200, { key: pki.keyPem, cert: pki.certPem });
    try {
      for (const object of [
        manifests.secret('gitea', { token: 'gitea-token', 'ca.crt': pki.caPem }),
        manifests.provider('gitea', {
          type: 'gitea',
          address: `${host.url}/org/app.git`,
          secretRef: { name: 'gitea' },
        }),
        manifests.secret('gitlab', { password: 'gitlab-password', 'ca.crt': pki.caPem }),
        manifests.provider('gitlab', {
          type: 'gitlab',
          address: `${host.url}/org/app.git`,
          secretRef: { name: 'gitlab' },
        }),
        manifests.alert('to-gitea', 'gitea'),
        manifests.alert('to-gitlab', 'gitlab'),
      ]) {
        await engine.store.apply(object);
      }
      await engine.store.apply(manifests.gitRepository('hosted', repo.url));
      const commit = repo.revParse();
      await eventually(() => host.requests.filter((r) => r.method === 'POST').length === 2, {
        what: 'both commit statuses',
      });
      const posts = host.requests.filter((r) => r.method === 'POST');
      expect(
        posts.find((r) => r.path === `/api/v1/repos/org/app/statuses/${commit}`)?.headers.authorization,
      ).toBe('token gitea-token');
      expect(
        posts.find((r) => r.path === `/api/v4/projects/org%2Fapp/statuses/${commit}`)?.headers[
          'private-token'
        ],
      ).toBe('gitlab-password');
    } finally {
      await host.stop();
      rmSync(pkiDir, { recursive: true, force: true });
    }
  });

  it('a failed delivery shows on the Provider without its token, key or password anywhere', async () => {
    const sentryDsn = endpoint.url.replace('://', `://${SECRETS.sentry}@`) + '/7';
    for (const object of [
      manifests.secret('telegram', { token: SECRETS.telegram }),
      manifests.provider('telegram', {
        type: 'telegram',
        address: endpoint.url,
        channel: '-100',
        secretRef: { name: 'telegram' },
      }),
      manifests.secret('sentry', { address: sentryDsn }),
      manifests.provider('sentry', { type: 'sentry', secretRef: { name: 'sentry' } }),
      manifests.secret('zulip', { username: 'bot@zulip.example', password: SECRETS.zulip }),
      manifests.provider('zulip', {
        type: 'zulip',
        address: endpoint.url,
        channel: 'flux/alerts',
        secretRef: { name: 'zulip' },
      }),
      manifests.secret('opsgenie', { token: SECRETS.opsgenie }),
      manifests.provider('opsgenie', {
        type: 'opsgenie',
        address: `${endpoint.url}/v2/alerts`,
        secretRef: { name: 'opsgenie' },
      }),
      ...['telegram', 'sentry', 'zulip', 'opsgenie'].map((p) => manifests.alert(`to-${p}`, p)),
    ]) {
      await engine.store.apply(object);
    }
    await engine.store.apply(manifests.gitRepository('app', repo.url));

    const failures: string[] = [];
    for (const provider of ['telegram', 'sentry', 'zulip', 'opsgenie']) {
      const failed = await eventually(
        async () =>
          (await conditionsOf(provider)).find((c) => c.type === 'DeliveryFailed' && c.status === 'True'),
        {
          what: `${provider} DeliveryFailed`,
        },
      );
      expect(failed.message).toContain('401');
      failures.push(failed.message);
      const events = await eventually(
        async () => {
          const list = await engine.store.listEvents({ kind: 'Provider', name: provider });
          return list.length > 0 ? list : undefined;
        },
        { what: `${provider} warning event` },
      );
      failures.push(...events.map((e) => e.message));
    }
    // The secrets did reach the endpoint, as the real services need them.
    const sent = endpoint.requests.map((r) => `${r.path} ${JSON.stringify(r.headers)}`).join('\n');
    expect(sent).toContain(`/bot${SECRETS.telegram}/sendMessage`);
    expect(sent).toContain(`sentry_key=${SECRETS.sentry}`);
    expect(sent).toContain('GenieKey genie-secret-key');

    await engine.stop();
    const logs = Buffer.concat(logged).toString('utf8');
    expect(logs).toContain('failed to send notification');
    const files = filesUnder(dataDir).map((file) => readFileSync(file).toString('latin1'));
    for (const secret of Object.values(SECRETS)) {
      for (const text of failures) expect(text).not.toContain(secret);
      expect(logs).not.toContain(secret);
      // The Secrets themselves are stored (the object and the store's change log); every other copy is a leak.
      for (const content of files) {
        for (let at = content.indexOf(secret); at >= 0; at = content.indexOf(secret, at + 1)) {
          expect(content.slice(Math.max(0, at - 80), at)).toMatch(
            /"stringData":\{("username":"[^"]*",)?"(token|password|address)":"(http:\/\/)?$/,
          );
        }
      }
    }
  });
});
