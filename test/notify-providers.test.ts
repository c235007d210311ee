import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProviderType } from '../src/api/provider.ts';
import type { FluxEvent } from '../src/notify/flux-event.ts';
import { createNotifier } from '../src/notify/notifier-factory.ts';
import type { NotifierConfig } from '../src/notify/notifier.ts';
import { generateTlsPki } from './harness/git-servers.ts';
import { startEndpoint, type ReceivedRequest, type TestEndpoint } from './notify-endpoint.ts';

// Each provider sends to a real HTTP listener on loopback; every test asserts the request the real service
// would receive: method, path, the headers that authenticate it and the exact body.

const commit = '0123456789abcdef0123456789abcdef01234567';
const revisionKey = 'kustomize.toolkit.fluxcd.io/revision';
const PROVIDER_UID = '4f6c2a1e-8b7d-4c3e-9a1f-2b3c4d5e6f70';
const OBJECT_UID = 'b2d1c7e0-0000-4000-8000-000000000001';
const event = (severity: 'info' | 'error', over: Partial<FluxEvent> = {}): FluxEvent => ({
  involvedObject: {
    kind: 'Kustomization',
    namespace: 'apps',
    name: 'podinfo',
    uid: OBJECT_UID,
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
  },
  severity,
  timestamp: '2026-01-02T03:04:05Z',
  message: severity === 'error' ? 'health check failed' : 'Deployment/apps/podinfo configured',
  reason: severity === 'error' ? 'HealthCheckFailed' : 'ReconciliationSucceeded',
  metadata: { [revisionKey]: `main@sha1:${commit}` },
  reportingController: 'kustomize-controller',
  reportingInstance: 'kedge-test',
  ...over,
});

let server: TestEndpoint;
beforeAll(async () => {
  server = await startEndpoint();
});
afterAll(() => server.stop());

function config(type: ProviderType, address: string, extra: Partial<NotifierConfig> = {}): NotifierConfig {
  return {
    type,
    address,
    provider: { namespace: 'apps', name: 'p', uid: PROVIDER_UID },
    http: { timeoutMs: 5000 },
    ...extra,
  };
}

async function send(
  cfg: NotifierConfig,
  e: FluxEvent,
  on: TestEndpoint = server,
): Promise<ReceivedRequest[]> {
  const before = on.requests.length;
  await createNotifier(cfg).post(e);
  return on.requests.slice(before);
}

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const statusId = `kustomization/podinfo/${PROVIDER_UID.split('-')[0]}`;

describe('chat providers', () => {
  it('telegram: sendMessage with the bot token in the path, MarkdownV2 escaped, topic from the channel', async () => {
    const [request, ...rest] = await send(
      config('telegram', server.url, { channel: '-100123:42', token: '123:ABC' }),
      event('error'),
    );
    expect(rest).toEqual([]);
    expect(request).toMatchObject({ method: 'POST', path: '/bot123:ABC/sendMessage' });
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.json()).toEqual({
      chat_id: '-100123',
      message_thread_id: '42',
      text:
        String.raw`*🚨 kustomization/podinfo/apps*` +
        '\nhealth check failed\n' +
        String.raw`\- *kustomize\.toolkit\.fluxcd\.io/revision*: main@sha1:${commit}` +
        '\n',
      parse_mode: 'MarkdownV2',
    });
  });

  it('googlechat: a card with the object, the controller, a red message and the metadata', async () => {
    const [request] = await send(
      config('googlechat', `${server.url}/v1/spaces/AAA/messages?key=k&token=t`),
      event('error'),
    );
    expect(request).toMatchObject({ method: 'POST', path: '/v1/spaces/AAA/messages?key=k&token=t' });
    expect(request!.json()).toEqual({
      cards: [
        {
          header: {
            title: 'kustomization/podinfo.apps',
            subtitle: 'kustomize-controller',
            imageUrl: null,
            imageStyle: null,
          },
          sections: [
            {
              header: '',
              widgets: [
                {
                  textParagraph: { text: '<font color="#ff0000">health check failed</font>' },
                  keyValue: null,
                },
              ],
            },
            {
              header: '',
              widgets: [
                {
                  textParagraph: null,
                  keyValue: {
                    topLabel: revisionKey,
                    content: `main@sha1:${commit}`,
                    contentMultiline: false,
                    bottomLabel: null,
                    icon: null,
                  },
                },
              ],
            },
          ],
        },
      ],
    });
  });

  it('webex: markdown to the room with the bot token', async () => {
    const [request] = await send(
      config('webex', `${server.url}/v1/messages`, { channel: 'room-1', token: 'webex-bot' }),
      event('info'),
    );
    expect(request).toMatchObject({ method: 'POST', path: '/v1/messages' });
    expect(request!.headers.authorization).toBe('Bearer webex-bot');
    expect(request!.json()).toEqual({
      roomId: 'room-1',
      markdown: `✅ **kustomization/podinfo.apps**\nDeployment/apps/podinfo configured\n>**${revisionKey}**: main@sha1:${commit}\n`,
    });
  });

  it('matrix: PUT of an m.text message into the room, transaction id from the event', async () => {
    const e = event('error');
    const [request] = await send(
      config('matrix', `${server.url}/`, { channel: '!room:example.org', token: 'syt_x' }),
      e,
    );
    const txn = createHash('sha1').update(JSON.stringify(e)).digest('hex');
    expect(request).toMatchObject({
      method: 'PUT',
      path: `/_matrix/client/r0/rooms/!room:example.org/send/m.room.message/${txn}`,
    });
    expect(request!.headers.authorization).toBe('Bearer syt_x');
    expect(request!.json()).toEqual({
      msgtype: 'm.text',
      body: `🚨 kustomization/podinfo.apps\nhealth check failed\n- ${revisionKey}: main@sha1:${commit}\n`,
    });
  });

  it('rocket: a Slack-shaped message with Flux colours', async () => {
    const [request] = await send(
      config('rocket', `${server.url}/hooks/abc/def`, { channel: 'ops', username: 'flux' }),
      event('info'),
    );
    expect(request).toMatchObject({ method: 'POST', path: '/hooks/abc/def' });
    expect(request!.json()).toEqual({
      channel: 'ops',
      username: 'flux',
      icon_url: '',
      icon_emoji: '',
      attachments: [
        {
          fallback: '',
          color: '#0076D7',
          author_name: 'kustomization/podinfo.apps',
          text: 'Deployment/apps/podinfo configured',
          mrkdwn_in: ['text'],
          fields: [{ title: revisionKey, value: `main@sha1:${commit}`, short: false }],
        },
      ],
    });
  });

  it('lark: an interactive card, red on errors', async () => {
    const [request] = await send(config('lark', `${server.url}/open-apis/bot/v2/hook/xyz`), event('error'));
    expect(request).toMatchObject({ method: 'POST', path: '/open-apis/bot/v2/hook/xyz' });
    expect(request!.json()).toEqual({
      msg_type: 'interactive',
      card: {
        config: { wide_screen_mode: true },
        header: { title: { tag: 'plain_text', content: '🚨 kustomization/podinfo.apps' }, template: 'red' },
        elements: [
          {
            tag: 'div',
            text: {
              tag: 'lark_md',
              content: `**health check failed**\n\n${revisionKey}: main@sha1:${commit}\n`,
            },
          },
        ],
      },
    });
  });

  it('zulip: a form-encoded stream message with the bot credentials as basic auth', async () => {
    const cfg = config('zulip', `${server.url}/ignored/path`, {
      channel: 'flux/alerts',
      basicAuth: { username: 'bot@zulip.example', password: 'api-key' },
    });
    const [request] = await send(cfg, event('error'));
    expect(request).toMatchObject({ method: 'POST', path: '/api/v1/messages' });
    expect(request!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(request!.headers.authorization).toBe(basic('bot@zulip.example', 'api-key'));
    expect(Object.fromEntries(new URLSearchParams(request!.body))).toEqual({
      type: 'stream',
      to: 'flux',
      topic: 'alerts',
      content: `## Flux Status\n\n⚠️ Kustomization/apps/podinfo\n\nhealth check failed\n\nMetadata:\n* \`${revisionKey}\`: main@sha1:${commit}\n`,
    });
  });
});

describe('incident and observability providers', () => {
  it('opsgenie: an alert with GenieKey auth and a stable alias per object and reason', async () => {
    const [request] = await send(
      config('opsgenie', `${server.url}/v2/alerts`, { token: 'genie' }),
      event('error'),
    );
    expect(request).toMatchObject({ method: 'POST', path: '/v2/alerts' });
    expect(request!.headers.authorization).toBe('GenieKey genie');
    expect(request!.json()).toEqual({
      message: 'Kustomization/podinfo',
      alias: createHash('sha256')
        .update(`${PROVIDER_UID}/Kustomization/apps/podinfo/HealthCheckFailed`)
        .digest('hex'),
      description: 'health check failed',
      details: { [revisionKey]: `main@sha1:${commit}`, severity: 'error' },
    });
  });

  it('pagerduty: errors trigger an incident keyed by the object uid', async () => {
    const requests = await send(
      config('pagerduty', `${server.url}/ignored`, { channel: 'routing-key' }),
      event('error'),
    );
    expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /v2/enqueue']);
    expect(requests[0]!.json()).toEqual({
      routing_key: 'routing-key',
      event_action: 'trigger',
      dedup_key: OBJECT_UID,
      payload: {
        summary: 'health check failed: kustomization/podinfo',
        source: 'Flux kustomize-controller',
        severity: 'error',
        timestamp: '2026-01-02T03:04:05Z',
        component: 'podinfo',
        group: 'Kustomization',
        custom_details: {
          message: 'health check failed',
          metadata: { [revisionKey]: `main@sha1:${commit}` },
        },
      },
    });
  });

  it('pagerduty: info resolves it and records a change event; Progressing sends nothing', async () => {
    const requests = await send(config('pagerduty', server.url, { channel: 'routing-key' }), event('info'));
    expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /v2/enqueue',
      'POST /v2/change/enqueue',
    ]);
    expect(requests[0]!.json()).toEqual({
      routing_key: 'routing-key',
      event_action: 'resolve',
      dedup_key: OBJECT_UID,
    });
    expect(requests[1]!.json()).toEqual({
      routing_key: 'routing-key',
      payload: {
        summary: 'reconciliation succeeded: kustomization/podinfo',
        source: 'Flux kustomize-controller',
        timestamp: '2026-01-02T03:04:05Z',
        custom_details: {
          message: 'Deployment/apps/podinfo configured',
          metadata: { [revisionKey]: `main@sha1:${commit}` },
        },
      },
    });
    expect(
      await send(
        config('pagerduty', server.url, { channel: 'routing-key' }),
        event('info', { reason: 'Progressing' }),
      ),
    ).toEqual([]);
  });

  it('datadog: an event on /api/v1/events with the API key header and lower-case tags', async () => {
    const [request] = await send(config('datadog', `${server.url}/`, { token: 'dd-key' }), event('error'));
    expect(request).toMatchObject({ method: 'POST', path: '/api/v1/events' });
    expect(request!.headers['dd-api-key']).toBe('dd-key');
    expect(request!.json()).toEqual({
      title: 'Events from the Kustomization podinfo/apps',
      text: 'health check failed',
      tags: [
        'flux_reporting_controller:kustomize-controller',
        'flux_reason:healthcheckfailed',
        'kube_kind:kustomization',
        'kube_name:podinfo',
        'kube_namespace:apps',
        `${revisionKey}:main@sha1:${commit}`,
      ],
      source_type_name: 'fluxcd',
      date_happened: Date.parse('2026-01-02T03:04:05Z') / 1000,
      alert_type: 'error',
    });
  });

  it('grafana: an annotation with bearer token, or basic auth without one', async () => {
    const [request] = await send(
      config('grafana', `${server.url}/api/annotations`, { token: 'glsa' }),
      event('info'),
    );
    expect(request).toMatchObject({ method: 'POST', path: '/api/annotations' });
    expect(request!.headers.authorization).toBe('Bearer glsa');
    expect(request!.json()).toEqual({
      when: Date.parse('2026-01-02T03:04:05Z') / 1000,
      text: 'kustomization/podinfo.apps',
      tags: [
        'flux',
        'kustomize-controller',
        `${revisionKey}: main@sha1|${commit}`,
        'kind: Kustomization',
        'name: podinfo',
        'namespace: apps',
      ],
    });
    const [withBasic] = await send(
      config('grafana', `${server.url}/api/annotations`, {
        basicAuth: { username: 'admin', password: 'pw' },
      }),
      event('info'),
    );
    expect(withBasic!.headers.authorization).toBe(basic('admin', 'pw'));
  });

  it('alertmanager: basic auth from username/password', async () => {
    const [request] = await send(
      config('alertmanager', `${server.url}/api/v2/alerts`, {
        basicAuth: { username: 'am', password: 'secret' },
      }),
      event('error'),
    );
    expect(request).toMatchObject({ method: 'POST', path: '/api/v2/alerts' });
    expect(request!.headers.authorization).toBe(basic('am', 'secret'));
  });

  it('sentry: errors are error events, info events transactions, in an envelope to the DSN project', async () => {
    const dsn = `${server.url.replace('://', '://public-key@')}/42`;
    const [error] = await send(config('sentry', dsn, { channel: 'production' }), event('error'));
    expect(error).toMatchObject({ method: 'POST', path: '/api/42/envelope/' });
    expect(error!.headers['content-type']).toBe('application/x-sentry-envelope');
    expect(error!.headers['x-sentry-auth']).toMatch(
      /^Sentry sentry_version=7, sentry_client=[^,]+, sentry_key=public-key$/,
    );
    const [header, itemHeader, payload] = error!.body
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(itemHeader).toEqual({ type: 'event', length: expect.any(Number) as unknown });
    expect(header).toMatchObject({ event_id: payload!.event_id, dsn });
    expect(payload).toMatchObject({
      level: 'error',
      environment: 'production',
      server_name: 'kustomize-controller',
      transaction: 'Kustomization: apps/podinfo',
      message: 'health check failed',
      timestamp: '2026-01-02T03:04:05Z',
      contexts: { metadata: { [revisionKey]: `main@sha1:${commit}` } },
    });

    const [info] = await send(config('sentry', dsn), event('info'));
    const [, infoItem, transaction] = info!.body
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(infoItem).toMatchObject({ type: 'transaction' });
    expect(transaction).toMatchObject({
      type: 'transaction',
      transaction: 'Kustomization: apps/podinfo',
      start_timestamp: '2026-01-02T03:04:05Z',
      tags: {
        flux_involved_object_kind: 'Kustomization',
        flux_reason: 'ReconciliationSucceeded',
        [revisionKey]: `main@sha1:${commit}`,
      },
      contexts: { trace: { op: 'event' } },
    });
  });
});

describe('commit status providers', () => {
  it.each([
    { severity: 'info' as const, state: 'success' },
    { severity: 'error' as const, state: 'failure' },
  ])('gitea: reads the statuses, then posts $state with Flux’s status id', async ({ severity, state }) => {
    const requests = await send(
      config('gitea', `${server.url}/org/app.git`, { token: 'gitea-token' }),
      event(severity),
    );
    expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET /api/v1/repos/org/app/commits/${commit}/statuses?limit=50&page=1`,
      `POST /api/v1/repos/org/app/statuses/${commit}`,
    ]);
    for (const r of requests) expect(r.headers.authorization).toBe('token gitea-token');
    expect(requests[1]!.json()).toEqual({
      state,
      target_url: '',
      description: severity === 'info' ? 'reconciliation succeeded' : 'health check failed',
      context: statusId,
    });
  });

  it('gitea: an identical status already there is not posted again', async () => {
    const existing = [{ context: statusId, state: 'success', description: 'reconciliation succeeded' }];
    const gitea = await startEndpoint((r) =>
      r.method === 'GET' ? { status: 200, body: JSON.stringify(existing) } : 201,
    );
    try {
      const requests = await send(
        config('gitea', `${gitea.url}/org/app`, { password: 'from-password' }),
        event('info'),
        gitea,
      );
      expect(requests.map((r) => r.method)).toEqual(['GET']);
      expect(requests[0]!.headers.authorization).toBe('token from-password');
    } finally {
      await gitea.stop();
    }
  });

  it('bitbucket: a build status keyed by sha1 of the status id, with basic auth from <user>:<password>', async () => {
    const key = createHash('sha1').update(statusId).digest('hex');
    const requests = await send(
      config('bitbucket', `${server.url}/workspace/repo.git`, { token: 'bb-user:app-pass' }),
      event('error'),
    );
    expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET /2.0/repositories/workspace/repo/commit/${commit}/statuses/build/${key}`,
      `POST /2.0/repositories/workspace/repo/commit/${commit}/statuses/build`,
    ]);
    for (const r of requests) expect(r.headers.authorization).toBe(basic('bb-user', 'app-pass'));
    expect(requests[1]!.json()).toEqual({
      key,
      url: 'https://bitbucket.org',
      state: 'FAILED',
      name: 'kustomization/podinfo',
      description: 'health check failed',
    });
    expect(
      await send(
        config('bitbucket', `${server.url}/workspace/repo`, { token: 'bb-user:app-pass' }),
        event('info', { reason: 'Progressing' }),
      ),
    ).toEqual([]);
  });

  it('bitbucket: a 404 for the key means no status yet; the same status again is skipped', async () => {
    let stored: string | undefined;
    const bb = await startEndpoint((r) => {
      if (r.method === 'POST') stored = r.body;
      return r.method === 'GET' ? (stored ? { status: 200, body: stored } : 404) : 201;
    });
    try {
      const cfg = config('bitbucket', `${bb.url}/workspace/repo`, { token: 'u:p' });
      expect((await send(cfg, event('info'), bb)).map((r) => r.method)).toEqual(['GET', 'POST']);
      expect((await send(cfg, event('info'), bb)).map((r) => r.method)).toEqual(['GET']);
    } finally {
      await bb.stop();
    }
  });

  it('bitbucketserver: a build status from the clone URL, bearer token and the Atlassian headers', async () => {
    const address = `${server.url}/context/scm/PROJ/app.git`;
    const key = createHash('sha1').update(statusId).digest('hex');
    const requests = await send(config('bitbucketserver', address, { token: 'bbs-token' }), event('info'));
    const builds = `/context/rest/api/latest/projects/PROJ/repos/app/commits/${commit}/builds`;
    expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET ${builds}?key=${key}`,
      `POST ${builds}`,
    ]);
    for (const r of requests) {
      expect(r.headers).toMatchObject({
        authorization: 'Bearer bbs-token',
        'x-atlassian-token': 'no-check',
        'x-requested-with': 'XMLHttpRequest',
      });
    }
    expect(requests[1]!.json()).toEqual({
      key,
      state: 'SUCCESSFUL',
      url: address,
      description: 'reconciliation succeeded',
      name: 'kustomization/podinfo [reconciliation succeeded]',
    });
    const [withBasic] = await send(
      config('bitbucketserver', address, { basicAuth: { username: 'u', password: 'p' } }),
      event('error'),
    );
    expect(withBasic!.headers.authorization).toBe(basic('u', 'p'));
  });

  it('azuredevops: lists the commit statuses, then creates one with the PAT as basic auth', async () => {
    const requests = await send(
      config('azuredevops', `${server.url}/org/project/_git/repo`, { token: 'pat' }),
      event('error', { metadata: { [revisionKey]: `main@sha1:${commit}`, summary: 'prod' } }),
    );
    const path = `/org/project/_apis/git/repositories/repo/commits/${commit}/statuses?api-version=6.0`;
    expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual([`GET ${path}`, `POST ${path}`]);
    for (const r of requests) expect(r.headers.authorization).toBe(basic('', 'pat'));
    expect(requests[1]!.json()).toEqual({
      state: 'error',
      description: 'health check failed',
      context: { name: statusId, genre: 'fluxcd:prod' },
    });
  });

  it('githubdispatch: a repository_dispatch carrying the whole event', async () => {
    const e = event('info');
    const [request] = await send(
      config('githubdispatch', `${server.url}/org/app`, { token: 'ghp_dispatch' }),
      e,
    );
    expect(request).toMatchObject({ method: 'POST', path: '/api/v3/repos/org/app/dispatches' });
    expect(request!.headers.authorization).toBe('Bearer ghp_dispatch');
    expect(request!.json()).toEqual({ event_type: 'Kustomization/podinfo.apps', client_payload: e });
  });

  it('github and gitlab use Flux’s default status id, so Flux and Kedge report one check', async () => {
    const [, gh] = await send(config('github', `${server.url}/org/app`, { token: 't' }), event('info'));
    expect(gh!.json()).toMatchObject({ context: statusId });
    const [, gl] = await send(config('gitlab', `${server.url}/org/app`, { token: 't' }), event('info'));
    expect(gl!.json()).toMatchObject({ name: statusId });
  });
});

describe('transport options', () => {
  it('trusts the certSecretRef CA for an https address', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kedge-notify-tls-'));
    const pki = generateTlsPki(dir);
    const tls = await startEndpoint(() => 200, { key: pki.keyPem, cert: pki.certPem });
    try {
      const cfg = config('webex', `${tls.url}/v1/messages`, { token: 'bot' });
      await expect(send(cfg, event('info'), tls)).rejects.toThrow(/failed/);
      const [request] = await send({ ...cfg, http: { ...cfg.http, ca: pki.caPem } }, event('info'), tls);
      expect(request).toMatchObject({ method: 'POST', path: '/v1/messages' });
    } finally {
      await tls.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sends through the proxy', async () => {
    const [request] = await send(
      config('opsgenie', 'http://api.opsgenie.invalid/v2/alerts', {
        token: 'k',
        http: { timeoutMs: 5000, proxyUrl: server.url },
      }),
      event('error'),
    );
    expect(request).toMatchObject({ method: 'POST', path: 'http://api.opsgenie.invalid/v2/alerts' });
    expect(request!.headers.host).toBe('api.opsgenie.invalid');
    expect(request!.headers.authorization).toBe('GenieKey k');
  });
});
