import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Condition } from '../src/api/meta.ts';
import type { Engine } from '../src/engine.ts';
import { createRepo } from './harness/git-repo.ts';
import { eventually } from './harness/eventually.ts';
import { manifests, startEndpoint, startTestEngine } from './notify-endpoint.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(): Promise<{ engine: Engine; repoUrl: string }> {
  const { engine, dispose } = await startTestEngine();
  cleanups.push(dispose);
  const repo = createRepo({ files: { 'a.yaml': 'a: 1\n' } });
  cleanups.push(() => rmSync(dirname(repo.dir), { recursive: true, force: true }));
  return { engine, repoUrl: repo.url };
}

const conditionsOf = async (engine: Engine, kind: string, name: string) =>
  (
    (await engine.store.get({ kind, namespace: 'default', name }))?.status as
      { conditions?: Condition[] } | undefined
  )?.conditions ?? [];

describe('Receiver resourceFilter (CEL over res and req)', () => {
  const requestedAt = async (engine: Engine, name: string) =>
    (await engine.store.get({ kind: 'GitRepository', namespace: 'default', name }))?.metadata.annotations?.[
      'reconcile.fluxcd.io/requestedAt'
    ];

  const webhookPath = (engine: Engine, name: string) =>
    eventually(
      async () =>
        (
          (await engine.store.get({ kind: 'Receiver', namespace: 'default', name }))?.status as
            { webhookPath?: string } | undefined
        )?.webhookPath,
      {
        what: `Receiver ${name} webhookPath`,
      },
    );

  const post = async (
    engine: Engine,
    path: string,
    body: unknown,
  ): Promise<{ status: number; text: string }> => {
    const response = await fetch(`${engine.receiverUrl}${path}`, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });
    return { status: response.status, text: await response.text() };
  };

  it('requests a reconcile only of the resources the filters accept, reading the resource and the JSON body', async () => {
    const { engine, repoUrl } = await setup();
    await engine.store.apply(manifests.secret('token', { token: 'receiver-token' }));
    for (const [name, team] of [
      ['frontend', 'web'],
      ['backend', 'api'],
      ['docs', 'web'],
    ] as const) {
      const repo = manifests.gitRepository(name, repoUrl);
      repo.metadata.labels = { team, tier: 'apps' };
      await engine.store.apply(repo);
    }
    await engine.store.apply(
      manifests.receiver('hook', {
        type: 'generic',
        secretRef: { name: 'token' },
        // Flux's example: only the repositories the pushed body names.
        resourceFilter: 'res.metadata.labels.team == req.team',
        resources: [
          {
            kind: 'GitRepository',
            name: '*',
            matchLabels: { tier: 'apps' },
            filter: "res.metadata.name != 'docs'",
          },
        ],
      }),
    );
    const path = await webhookPath(engine, 'hook');

    expect(await post(engine, path, { team: 'web' })).toEqual({
      status: 200,
      text: 'reconcile requested for 1 resource(s)\n',
    });
    expect(await requestedAt(engine, 'frontend')).toBeDefined();
    expect(await requestedAt(engine, 'backend')).toBeUndefined();
    expect(await requestedAt(engine, 'docs')).toBeUndefined(); // the team matches, the resource's own filter does not

    expect((await post(engine, path, { team: 'api' })).status).toBe(200);
    expect(await requestedAt(engine, 'backend')).toBeDefined();
    expect(await requestedAt(engine, 'docs')).toBeUndefined();
  });

  it('answers 500 and requests nothing for a resource whose filter fails to evaluate', async () => {
    const { engine, repoUrl } = await setup();
    await engine.store.apply(manifests.secret('token', { token: 'receiver-token' }));
    await engine.store.apply(manifests.gitRepository('app', repoUrl));
    await engine.store.apply(
      manifests.receiver('hook', {
        type: 'generic',
        secretRef: { name: 'token' },
        resourceFilter: "req.ref == 'refs/heads/main'",
        resources: [{ kind: 'GitRepository', name: 'app' }],
      }),
    );
    const path = await webhookPath(engine, 'hook');
    // No `ref` in the body: the expression cannot be evaluated.
    expect(await post(engine, path, { other: 1 })).toEqual({
      status: 500,
      text: 'resource filter failed for 1 resource(s)\n',
    });
    expect(await requestedAt(engine, 'app')).toBeUndefined();
    expect((await post(engine, path, { ref: 'refs/heads/dev' })).status).toBe(200);
    expect(await requestedAt(engine, 'app')).toBeUndefined();
    expect((await post(engine, path, { ref: 'refs/heads/main' })).status).toBe(200);
    expect(await requestedAt(engine, 'app')).toBeDefined();
  });
});

describe('Provider commitStatusExpr (CEL over event, alert and provider)', () => {
  it('gives the commit status key a real commit status API receives', async () => {
    const endpoint = await startEndpoint(() => 201);
    cleanups.push(() => endpoint.stop());
    const { engine, repoUrl } = await setup();
    await engine.store.apply(manifests.secret('gh-token', { token: 'ghp_test' }));
    await engine.store.apply(
      manifests.provider('github-status', {
        type: 'github',
        address: `${endpoint.url}/org/app`,
        secretRef: { name: 'gh-token' },
        commitStatusExpr:
          "(event.involvedObject.kind + '/' + event.involvedObject.name + '/' + event.metadata.env + '/' + provider.metadata.name + '/' + alert.metadata.name).lowerAscii()",
      }),
    );
    await engine.store.apply(manifests.alert('alert', 'github-status', { eventMetadata: { env: 'Prod' } }));
    await engine.store.apply(manifests.gitRepository('app', repoUrl));
    // The provider reads the commit's statuses first (GET), then posts the new one.
    const request = await eventually(
      () => endpoint.requests.find((r) => r.method === 'POST'),
      { what: 'the commit status request' },
    );
    expect(request.path).toMatch(/^\/api\/v3\/repos\/org\/app\/statuses\/[0-9a-f]{40}$/);
    expect(request.json()).toMatchObject({
      state: 'success',
      context: 'gitrepository/app/prod/github-status/alert',
    });
  });

  it('a key that fails to evaluate makes the Provider not Ready with the expression, and sends nothing', async () => {
    const endpoint = await startEndpoint(() => 201);
    cleanups.push(() => endpoint.stop());
    const { engine, repoUrl } = await setup();
    await engine.store.apply(manifests.secret('gh-token', { token: 'ghp_test' }));
    await engine.store.apply(
      manifests.provider('github-status', {
        type: 'github',
        address: `${endpoint.url}/org/app`,
        secretRef: { name: 'gh-token' },
        commitStatusExpr: "event.metadata.cluster + '/' + event.involvedObject.name",
      }),
    );
    await engine.store.apply(manifests.alert('alert', 'github-status'));
    await engine.store.apply(manifests.gitRepository('app', repoUrl));
    const failed = await eventually(
      async () =>
        (await conditionsOf(engine, 'Provider', 'github-status')).find((c) => c.type === 'DeliveryFailed'),
      {
        what: 'Provider DeliveryFailed',
      },
    );
    expect(failed.message).toContain(
      "failed to evaluate the spec.commitStatusExpr CEL expression for the event: failed to evaluate the CEL expression 'event.metadata.cluster + '/' + event.involvedObject.name': No such key: cluster",
    );
    expect(
      (await conditionsOf(engine, 'Provider', 'github-status')).find((c) => c.type === 'Ready')?.status,
    ).toBe('False');
    expect(endpoint.requests).toEqual([]);
  });
});
