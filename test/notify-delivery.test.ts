import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Condition } from '../src/api/meta.ts';
import type { Engine } from '../src/engine.ts';
import { createRepo, type TestRepo } from './harness/git-repo.ts';
import { eventually } from './harness/eventually.ts';
import { manifests, startEndpoint, startTestEngine, type Respond, type TestEndpoint } from './notify-endpoint.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(respond: Respond): Promise<{ engine: Engine; repo: TestRepo; endpoint: TestEndpoint }> {
  const endpoint = await startEndpoint(respond);
  cleanups.push(() => endpoint.stop());
  const { engine, dispose } = await startTestEngine();
  cleanups.push(dispose);
  const repo = createRepo({ files: { 'app.yaml': 'a: 1\n' } });
  cleanups.push(() => rmSync(dirname(repo.dir), { recursive: true, force: true }));
  return { engine, repo, endpoint };
}

async function applyAll(engine: Engine, objects: Parameters<Engine['store']['apply']>[0][]): Promise<void> {
  for (const object of objects) await engine.store.apply(object);
  await eventually(async () => (await engine.store.get({ kind: 'Alert', namespace: 'default', name: 'alert' }))?.status, { what: 'alert reconciled' });
}

const conditionsOf = async (engine: Engine, kind: string, name: string) =>
  ((await engine.store.get({ kind, namespace: 'default', name }))?.status as { conditions?: Condition[] } | undefined)?.conditions ?? [];

describe('delivery', () => {
  it('retries a 500 and delivers the event exactly once', async () => {
    const { engine, repo, endpoint } = await setup((_r, i) => (i === 0 ? 500 : 200));
    await applyAll(engine, [manifests.provider('hook', { type: 'generic', address: endpoint.url }), manifests.alert('alert', 'hook')]);
    await engine.store.apply(manifests.gitRepository('app', repo.url));
    await eventually(() => endpoint.answered >= 2, { what: 'the retry to succeed' });
    const bodies = endpoint.requests.map((r) => r.body);
    expect(bodies).toHaveLength(2);
    expect(bodies[0]).toBe(bodies[1]);
    // The duplicate filter keeps a repeat of the same event from being sent again.
    await engine.events.record(
      (await engine.store.get({ kind: 'GitRepository', namespace: 'default', name: 'app' }))!,
      'Normal',
      'NewArtifact',
      (JSON.parse(bodies[0]!) as { message: string }).message,
      { controller: 'source-controller', annotations: (JSON.parse(bodies[0]!) as { metadata: Record<string, string> }).metadata },
    );
    await engine.events.record(
      (await engine.store.get({ kind: 'GitRepository', namespace: 'default', name: 'app' }))!,
      'Normal',
      'Marker',
      'a different message',
      { controller: 'source-controller' },
    );
    await eventually(() => endpoint.requests.length === 3, { what: 'the marker event' });
    expect(endpoint.requests.map((r) => (r.json() as { reason: string }).reason)).toEqual(['NewArtifact', 'NewArtifact', 'Marker']);
  });

  it('does not retry a 4xx and makes the failure visible without leaking the token or address', async () => {
    const { engine, repo, endpoint } = await setup(() => 403);
    const secretPath = '/services/T000/B000/verysecretpath';
    await applyAll(engine, [
      manifests.secret('hook-secret', { address: `${endpoint.url}${secretPath}`, token: 'tok-supersecret' }),
      manifests.provider('hook', { type: 'generic-hmac', secretRef: { name: 'hook-secret' } }),
      manifests.alert('alert', 'hook'),
    ]);
    await engine.store.apply(manifests.gitRepository('app', repo.url));

    const failed = await eventually(async () => (await conditionsOf(engine, 'Provider', 'hook')).find((c) => c.type === 'DeliveryFailed'), {
      what: 'Provider DeliveryFailed',
    });
    expect(failed.message).toContain('403');
    const ready = (await conditionsOf(engine, 'Provider', 'hook')).find((c) => c.type === 'Ready');
    expect(ready?.status).toBe('False');
    await eventually(async () => (await conditionsOf(engine, 'Alert', 'alert')).some((c) => c.type === 'DeliveryFailed'), { what: 'Alert DeliveryFailed' });
    const warnings = await eventually(async () => {
      const events = await engine.store.listEvents({ kind: 'Provider', name: 'hook' });
      return events.length > 0 ? events : undefined;
    });
    expect(warnings[0]).toMatchObject({ type: 'Warning', reason: 'NotificationFailed' });
    const metrics = await engine.metrics.registry.metrics();
    expect(metrics).toMatch(/kedge_notification_failures_total\{namespace="default",provider="hook",type="generic-hmac"\} 1/);
    expect(endpoint.requests).toHaveLength(1);
    for (const text of [failed.message, warnings[0]!.message]) {
      expect(text).not.toContain('supersecret');
      expect(text).not.toContain('verysecretpath');
    }
  });

  it('a hanging endpoint does not hold up reconciliation', async () => {
    const { engine, repo, endpoint } = await setup(() => 'hang');
    await applyAll(engine, [manifests.provider('hook', { type: 'generic', address: endpoint.url, timeout: '5m' }), manifests.alert('alert', 'hook')]);
    await engine.store.apply(manifests.gitRepository('first', repo.url));
    await eventually(() => endpoint.requests.length === 1, { what: 'the first notification to hang' });
    // While the endpoint holds that request, more sources reconcile and new commits are fetched.
    const next = repo.commit({ 'app.yaml': 'a: 2\n' });
    await engine.store.apply(manifests.gitRepository('second', repo.url));
    await eventually(async () => {
      const second = await engine.store.get({ kind: 'GitRepository', namespace: 'default', name: 'second' });
      return (second?.status as { artifact?: { revision: string } } | undefined)?.artifact?.revision === `main@sha1:${next}`;
    }, { what: 'the second repository to get its artifact' });
    expect(endpoint.answered).toBe(0);
  });
});
