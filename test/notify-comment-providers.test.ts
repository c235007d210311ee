import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProviderType } from '../src/api/provider.ts';
import type { FluxEvent } from '../src/notify/flux-event.ts';
import { createNotifier } from '../src/notify/notifier-factory.ts';
import type { NotifierConfig } from '../src/notify/notifier.ts';
import { createRepo } from './harness/git-repo.ts';
import { eventually } from './harness/eventually.ts';
import { generateTlsPki } from './harness/git-servers.ts';
import {
  manifests,
  startEndpoint,
  startTestEngine,
  type ReceivedRequest,
  type Respond,
  type TestEndpoint,
} from './notify-endpoint.ts';

// Flux's pull/merge request comment providers, zoom and incident.io, each against a real HTTP listener on
// loopback playing the service: every test asserts the requests the real service would receive.

const PROVIDER_UID = '4f6c2a1e-8b7d-4c3e-9a1f-2b3c4d5e6f70';
const OBJECT_UID = 'b2d1c7e0-0000-4000-8000-000000000001';
const revisionKey = 'kustomize.toolkit.fluxcd.io/revision';
const revision = 'main@sha1:0123456789abcdef0123456789abcdef01234567';

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
  metadata: { [revisionKey]: revision, 'event.toolkit.fluxcd.io/change_request': '7' },
  reportingController: 'kustomize-controller',
  reportingInstance: 'kedge-test',
  ...over,
});

const config = (
  type: ProviderType,
  address: string,
  extra: Partial<NotifierConfig> = {},
): NotifierConfig => ({
  type,
  address,
  provider: { namespace: 'apps', name: 'p', uid: PROVIDER_UID },
  http: { timeoutMs: 5000 },
  ...extra,
});

async function send(cfg: NotifierConfig, e: FluxEvent, on: TestEndpoint): Promise<ReceivedRequest[]> {
  const before = on.requests.length;
  await createNotifier(cfg).post(e);
  return on.requests.slice(before);
}

/** A forge: answers the user lookup with `user` and the comment list with `comments`; writes get 201. */
function forge(user: Record<string, unknown>, comments: unknown[]): Respond {
  return (r) => {
    if (r.method !== 'GET') return 201;
    if (/\/user$/.test(r.path)) return { status: 200, body: JSON.stringify(user) };
    return { status: 200, body: JSON.stringify(comments) };
  };
}

const marker = (prefix: string) => `<!-- ${prefix}:${PROVIDER_UID}/Kustomization/apps/podinfo -->`;
const post = (emoji: string, message: string) =>
  `## Flux Status\n\n${emoji} Kustomization/apps/podinfo\n\n${message}\n\nMetadata:\n* \`${revisionKey}\`: ${revision}\n`;
const infoBody = (prefix: string) =>
  `${marker(prefix)}\n\n${post('ℹ️', 'Deployment/apps/podinfo configured')}`;
const errorBody = (prefix: string) => `${marker(prefix)}\n\n${post('⚠️', 'health check failed')}`;

describe('pull and merge request comment providers', () => {
  it('githubpullrequestcomment: creates the comment on the PR from the change_request metadata', async () => {
    const github = await startEndpoint(
      forge({ login: 'flux-bot' }, [{ id: 1, user: { login: 'someone' }, body: 'LGTM' }]),
    );
    try {
      const requests = await send(
        config('githubpullrequestcomment', `${github.url}/org/app`, { token: 'gh-token' }),
        event('info'),
        github,
      );
      expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual([
        'GET /api/v3/user',
        'GET /api/v3/repos/org/app/issues/7/comments?direction=asc&per_page=100&sort=created',
        'POST /api/v3/repos/org/app/issues/7/comments',
      ]);
      for (const r of requests) expect(r.headers.authorization).toBe('Bearer gh-token');
      expect(requests[2]!.json()).toEqual({ body: infoBody('flux-pr-comment-key') });
    } finally {
      await github.stop();
    }
  });

  it('githubpullrequestcomment: edits its own comment for the object, not one by another user with the marker', async () => {
    const comments = [
      { id: 11, user: { login: 'mallory' }, body: infoBody('flux-pr-comment-key') },
      { id: 12, user: { login: 'flux-bot' }, body: `${marker('flux-pr-comment-key')}\n\nold` },
    ];
    const github = await startEndpoint(forge({ login: 'flux-bot' }, comments));
    try {
      const requests = await send(
        config('githubpullrequestcomment', `${github.url}/org/app.git`, { password: 'pw-token' }),
        event('error'),
        github,
      );
      expect(requests.map((r) => `${r.method} ${r.path}`).slice(2)).toEqual([
        'PATCH /api/v3/repos/org/app/issues/comments/12',
      ]);
      expect(requests[2]!.headers.authorization).toBe('Bearer pw-token');
      expect(requests[2]!.json()).toEqual({ body: errorBody('flux-pr-comment-key') });
    } finally {
      await github.stop();
    }
  });

  it('gitlabmergerequestcomment: edits its note on the MR with PUT, PRIVATE-TOKEN auth, subgroups encoded', async () => {
    const notes = [{ id: 99, author: { username: 'flux' }, body: `${marker('flux-mr-comment-key')}\n\nold` }];
    const gitlab = await startEndpoint(forge({ username: 'flux' }, notes));
    try {
      const requests = await send(
        config('gitlabmergerequestcomment', `${gitlab.url}/group/sub/app`, { token: 'gl-token' }),
        event('info'),
        gitlab,
      );
      const project = '/api/v4/projects/group%2Fsub%2Fapp/merge_requests/7';
      expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual([
        'GET /api/v4/user',
        `GET ${project}/notes?order_by=created_at&per_page=100&sort=asc`,
        `PUT ${project}/notes/99`,
      ]);
      for (const r of requests) expect(r.headers['private-token']).toBe('gl-token');
      expect(requests[2]!.json()).toEqual({ body: infoBody('flux-mr-comment-key') });
    } finally {
      await gitlab.stop();
    }
  });

  it('giteapullrequestcomment: creates the comment with token auth; change_request from an Alert works too', async () => {
    const gitea = await startEndpoint(forge({ login: 'flux' }, []));
    try {
      const e = event('error', { metadata: { [revisionKey]: revision, change_request: '7' } });
      const requests = await send(
        config('giteapullrequestcomment', `${gitea.url}/org/app`, { token: 'gt-token' }),
        e,
        gitea,
      );
      expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual([
        'GET /api/v1/user',
        'GET /api/v1/repos/org/app/issues/7/comments?page=1&limit=100',
        'POST /api/v1/repos/org/app/issues/7/comments',
      ]);
      for (const r of requests) expect(r.headers.authorization).toBe('token gt-token');
      expect(requests[2]!.json()).toEqual({ body: errorBody('flux-pr-comment-key') });
    } finally {
      await gitea.stop();
    }
  });

  it('events without a change request send nothing; a bad number and a missing token are refused', async () => {
    const gitea = await startEndpoint(forge({ login: 'flux' }, []));
    try {
      const cfg = config('giteapullrequestcomment', `${gitea.url}/org/app`, { token: 't' });
      expect(await send(cfg, event('info', { metadata: { [revisionKey]: revision } }), gitea)).toEqual([]);
      await expect(
        send(cfg, event('info', { metadata: { change_request: 'seven' } }), gitea),
      ).rejects.toThrow(/not a pull request number/);
      expect(() => createNotifier(config('githubpullrequestcomment', `${gitea.url}/org/app`))).toThrow(
        /needs a 'token'/,
      );
      expect(gitea.requests).toEqual([]);
    } finally {
      await gitea.stop();
    }
  });
});

describe('zoom and incident.io', () => {
  let server: TestEndpoint;
  beforeAll(async () => {
    server = await startEndpoint();
  });
  afterAll(() => server.stop());

  it('zoom: the rich message format with the verification token as the bare Authorization header', async () => {
    const [request, ...rest] = await send(
      config('zoom', `${server.url}/v2/im/chat/webhooks/incomingwebhook/abc`, { token: 'verif' }),
      event('error'),
      server,
    );
    expect(rest).toEqual([]);
    expect(request).toMatchObject({
      method: 'POST',
      path: '/v2/im/chat/webhooks/incomingwebhook/abc?format=full',
    });
    expect(request!.headers.authorization).toBe('verif');
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.json()).toEqual({
      content: {
        head: { text: 'kustomization/podinfo.apps', sub_head: { text: 'error' } },
        body: [
          { type: 'message', text: 'health check failed' },
          {
            type: 'fields',
            items: [
              { key: 'event.toolkit.fluxcd.io/change_request', value: '7' },
              { key: revisionKey, value: revision },
            ],
          },
        ],
      },
    });
    const [pinned] = await send(
      config('zoom', `${server.url}/hook?format=message`, { token: 'verif' }),
      event('info', { metadata: {} }),
      server,
    );
    expect(pinned!.path).toBe('/hook?format=message');
    expect(pinned!.json()).toEqual({
      content: {
        head: { text: 'kustomization/podinfo.apps', sub_head: { text: 'info' } },
        body: [{ type: 'message', text: 'Deployment/apps/podinfo configured' }],
      },
    });
    expect(() => createNotifier(config('zoom', server.url))).toThrow(/verification 'token'/);
  });

  it('incident.io: errors fire and recoveries resolve one alert keyed by the object uid; Progressing sends nothing', async () => {
    const cfg = config('incident.io', `${server.url}/v2/alert_events/http/01SRC`, { token: 'inc-key' });
    const [fired] = await send(cfg, event('error'), server);
    expect(fired).toMatchObject({ method: 'POST', path: '/v2/alert_events/http/01SRC' });
    expect(fired!.headers.authorization).toBe('Bearer inc-key');
    expect(fired!.json()).toEqual({
      title: 'kustomization/podinfo.apps: HealthCheckFailed',
      status: 'firing',
      deduplication_key: OBJECT_UID,
      description: 'health check failed',
      metadata: {
        [revisionKey]: revision,
        'event.toolkit.fluxcd.io/change_request': '7',
        severity: 'error',
        reason: 'HealthCheckFailed',
        reportingController: 'kustomize-controller',
      },
    });
    const [resolved] = await send(cfg, event('info', { metadata: {} }), server);
    expect(resolved!.json()).toMatchObject({
      status: 'resolved',
      deduplication_key: OBJECT_UID,
      title: 'kustomization/podinfo.apps: ReconciliationSucceeded',
    });
    expect(await send(cfg, event('info', { reason: 'Progressing' }), server)).toEqual([]);
  });

  it('zoom through the proxy, incident.io over https trusting the certSecretRef CA', async () => {
    const [proxied] = await send(
      config('zoom', 'http://zoom.invalid/hook', {
        token: 'verif',
        http: { timeoutMs: 5000, proxyUrl: server.url },
      }),
      event('info'),
      server,
    );
    expect(proxied).toMatchObject({ method: 'POST', path: 'http://zoom.invalid/hook?format=full' });
    expect(proxied!.headers.host).toBe('zoom.invalid');

    const dir = mkdtempSync(join(tmpdir(), 'kedge-notify-tls-'));
    const pki = generateTlsPki(dir);
    const tls = await startEndpoint(() => 200, { key: pki.keyPem, cert: pki.certPem });
    try {
      const cfg = config('incident.io', `${tls.url}/v2/alert_events/http/01SRC`, { token: 'inc-key' });
      await expect(send(cfg, event('error'), tls)).rejects.toThrow(/failed/);
      const [request] = await send({ ...cfg, http: { ...cfg.http, ca: pki.caPem } }, event('error'), tls);
      expect(request).toMatchObject({ method: 'POST', path: '/v2/alert_events/http/01SRC' });
    } finally {
      await tls.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('change request comments end to end', () => {
  it("an object's event.toolkit.fluxcd.io/change_request annotation reaches its events: the PR gets the comment", async () => {
    const github = await startEndpoint(forge({ login: 'flux-bot' }, []));
    const repo = createRepo({ files: { 'a.yaml': 'a: 1\n' } });
    const { engine, dispose } = await startTestEngine();
    try {
      await engine.store.apply(manifests.secret('gh-token', { token: 'ghp_test' }));
      await engine.store.apply(
        manifests.provider('pr', {
          type: 'githubpullrequestcomment',
          address: `${github.url}/org/app`,
          secretRef: { name: 'gh-token' },
        }),
      );
      await engine.store.apply(manifests.alert('alert', 'pr'));
      const preview = manifests.gitRepository('preview', repo.url);
      preview.metadata.annotations = { 'event.toolkit.fluxcd.io/change_request': '42' };
      await engine.store.apply(preview);
      const created = await eventually(() => github.requests.find((r) => r.method === 'POST'), {
        what: 'the PR comment',
      });
      expect(created.path).toBe('/api/v3/repos/org/app/issues/42/comments');
      const { body } = created.json() as { body: string };
      expect(body).toMatch(
        /^<!-- flux-pr-comment-key:[0-9a-f-]+\/GitRepository\/default\/preview -->\n\n## Flux Status\n\nℹ️ GitRepository\/default\/preview\n\n/,
      );
      expect(body).not.toContain('change_request');
    } finally {
      await dispose();
      await github.stop();
      rmSync(dirname(repo.dir), { recursive: true, force: true });
    }
  });
});
