import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProviderType } from '../src/api/provider.ts';
import type { FluxEvent } from '../src/notify/flux-event.ts';
import { createNotifier } from '../src/notify/notifier-factory.ts';
import type { NotifierConfig } from '../src/notify/notifier.ts';
import { startEndpoint, type TestEndpoint } from './notify-endpoint.ts';

const commit = '0123456789abcdef0123456789abcdef01234567';
const event = (severity: 'info' | 'error'): FluxEvent => ({
  involvedObject: { kind: 'Kustomization', namespace: 'apps', name: 'podinfo', apiVersion: 'kustomize.toolkit.fluxcd.io/v1' },
  severity,
  timestamp: '2026-01-02T03:04:05Z',
  message: severity === 'error' ? 'health check failed' : 'Deployment/apps/podinfo configured',
  reason: severity === 'error' ? 'HealthCheckFailed' : 'ReconciliationSucceeded',
  metadata: { 'kustomize.toolkit.fluxcd.io/revision': `main@sha1:${commit}` },
  reportingController: 'kustomize-controller',
  reportingInstance: 'kedge-test',
});

let server: TestEndpoint;
beforeAll(async () => {
  server = await startEndpoint();
});
afterAll(() => server.stop());

function config(type: ProviderType, address: string, extra: Partial<NotifierConfig> = {}): NotifierConfig {
  return { type, address, provider: { namespace: 'apps', name: 'p', uid: 'uid-1' }, http: { timeoutMs: 5000 }, ...extra };
}

async function send(cfg: NotifierConfig, e: FluxEvent) {
  const before = server.requests.length;
  await createNotifier(cfg).post(e);
  return server.requests.slice(before);
}

describe('chat provider payloads', () => {
  it.each([
    {
      name: 'slack webhook',
      cfg: () => config('slack', `${server.url}/services/T/B/x`, { channel: 'ops', username: 'flux' }),
      path: '/services/T/B/x',
      expected: {
        channel: 'ops',
        username: 'flux',
        attachments: [
          {
            color: 'danger',
            author_name: 'kustomization/podinfo.apps',
            text: 'health check failed',
            mrkdwn_in: ['text'],
            fields: [{ title: 'kustomize.toolkit.fluxcd.io/revision', value: `main@sha1:${commit}`, short: false }],
          },
        ],
      },
    },
    {
      name: 'discord (slack-compatible endpoint)',
      cfg: () => config('discord', `${server.url}/api/webhooks/1/abc`, { username: 'flux' }),
      path: '/api/webhooks/1/abc/slack',
      expected: { username: 'flux', attachments: [{ color: 'danger', author_name: 'kustomization/podinfo.apps', text: 'health check failed' }] },
    },
    {
      name: 'msteams workflow (adaptive card)',
      cfg: () => config('msteams', `${server.url}/workflows/1`),
      path: '/workflows/1',
      expected: {
        type: 'message',
        attachments: [
          {
            contentType: 'application/vnd.microsoft.card.adaptive',
            content: {
              type: 'AdaptiveCard',
              body: [
                { type: 'TextBlock', text: 'kustomization/podinfo.apps', color: 'attention' },
                { type: 'TextBlock', text: 'health check failed' },
                { type: 'FactSet', facts: [{ title: 'kustomize.toolkit.fluxcd.io/revision', value: `main@sha1:${commit}` }] },
              ],
            },
          },
        ],
      },
    },
    {
      name: 'alertmanager',
      cfg: () => config('alertmanager', `${server.url}/api/v2/alerts`),
      path: '/api/v2/alerts',
      expected: [
        {
          status: 'firing',
          labels: { alertname: 'FluxKustomizationHealthCheckFailed', severity: 'error', name: 'podinfo', namespace: 'apps' },
          annotations: { message: 'health check failed' },
        },
      ],
    },
  ])('$name', async ({ cfg, path, expected }) => {
    const [request] = await send(cfg(), event('error'));
    expect(request?.path).toBe(path);
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.json()).toMatchObject(expected);
  });

  it('slack with a bot token authenticates with it', async () => {
    const [request] = await send(config('slack', `${server.url}/api/chat.postMessage`, { token: 'xoxb-1' }), event('info'));
    expect(request?.headers.authorization).toBe('Bearer xoxb-1');
    expect(request?.json()).toMatchObject({ attachments: [{ color: 'good' }] });
  });
});

describe('commit status providers', () => {
  it.each([
    { severity: 'info' as const, github: 'success', gitlab: 'success' },
    { severity: 'error' as const, github: 'failure', gitlab: 'failed' },
  ])('mark the event commit $severity', async ({ severity, github, gitlab }) => {
    const [ghList, gh, ...ghRest] = await send(config('github', `${server.url}/org/app`, { token: 'ghp_x' }), event(severity));
    expect(ghRest).toEqual([]);
    expect(`${ghList?.method} ${ghList?.path}`).toBe(`GET /api/v3/repos/org/app/commits/${commit}/statuses?per_page=50`);
    expect(`${gh?.method} ${gh?.path}`).toBe(`POST /api/v3/repos/org/app/statuses/${commit}`);
    for (const r of [ghList, gh]) expect(r?.headers.authorization).toBe('Bearer ghp_x');
    expect(gh?.json()).toEqual({ state: github, context: 'kustomization/podinfo/uid', description: severity === 'info' ? 'reconciliation succeeded' : 'health check failed' });

    const [glList, gl, ...glRest] = await send(config('gitlab', `${server.url}/group/sub/app.git`, { token: 'glpat' }), event(severity));
    expect(glRest).toEqual([]);
    expect(`${glList?.method} ${glList?.path}`).toBe(`GET /api/v4/projects/group%2Fsub%2Fapp/repository/commits/${commit}/statuses?name=kustomization%2Fpodinfo%2Fuid`);
    expect(`${gl?.method} ${gl?.path}`).toBe(`POST /api/v4/projects/group%2Fsub%2Fapp/statuses/${commit}`);
    for (const r of [glList, gl]) expect(r?.headers['private-token']).toBe('glpat');
    expect(gl?.json()).toMatchObject({ state: gitlab, name: 'kustomization/podinfo/uid' });
  });

  it('post nothing when the same status is already there, or for Progressing events', async () => {
    const host = await startEndpoint((r) => {
      if (r.method !== 'GET') return 201;
      const existing = r.path.includes('/api/v4/')
        ? [{ name: 'kustomization/podinfo/uid', status: 'success', description: 'reconciliation succeeded' }]
        : [{ context: 'kustomization/podinfo/uid', state: 'success', description: 'reconciliation succeeded' }];
      return { status: 200, body: JSON.stringify(existing) };
    });
    try {
      for (const type of ['github', 'gitlab'] as const) {
        const before = host.requests.length;
        await createNotifier(config(type, `${host.url}/org/app`, { token: 't' })).post(event('info'));
        expect(host.requests.slice(before).map((r) => r.method)).toEqual(['GET']);
        await createNotifier(config(type, `${host.url}/org/app`, { token: 't' })).post(event('error'));
        expect(host.requests.slice(before).map((r) => r.method)).toEqual(['GET', 'GET', 'POST']);
        await createNotifier(config(type, `${host.url}/org/app`, { token: 't' })).post({ ...event('info'), reason: 'Progressing' });
        expect(host.requests.length).toBe(before + 3);
      }
    } finally {
      await host.stop();
    }
  });

  it('skips events without a revision', async () => {
    const { metadata: _dropped, ...bare } = event('info');
    expect(await send(config('github', `${server.url}/org/app`, { token: 't' }), bare)).toEqual([]);
  });
});
