import { createHmac } from 'node:crypto';
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createRepo, type TestRepo } from './harness/git-repo.ts';
import { eventually } from './harness/eventually.ts';
import { manifests, startEndpoint, startTestEngine, type TestEndpoint } from './notify-endpoint.ts';
import type { Engine } from '../src/engine.ts';

interface PostedEvent {
  involvedObject: { kind: string; name: string; namespace: string; apiVersion: string };
  severity: string;
  timestamp: string;
  message: string;
  reason: string;
  metadata?: Record<string, string>;
  reportingController: string;
  reportingInstance?: string;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(): Promise<{ engine: Engine; repo: TestRepo }> {
  const { engine, dispose } = await startTestEngine();
  cleanups.push(dispose);
  const repo = createRepo({ files: { 'deploy/config.yaml': 'greeting: hello\n' } });
  cleanups.push(() => rmSync(dirname(repo.dir), { recursive: true, force: true }));
  return { engine, repo };
}

async function endpoint(): Promise<TestEndpoint> {
  const e = await startEndpoint();
  cleanups.push(() => e.stop());
  return e;
}

const posted = (e: TestEndpoint) => e.requests.map((r) => r.json() as PostedEvent);

describe('generic and generic-hmac providers', () => {
  it('post a GitRepository NewArtifact event as Flux does, signed with the token', async () => {
    const { engine, repo } = await setup();
    const generic = await endpoint();
    const hmac = await endpoint();
    const token = 's3cr3t-hmac-key';
    for (const object of [
      manifests.provider('generic', { type: 'generic', address: `${generic.url}/hook` }),
      manifests.secret('hmac-token', { token }),
      manifests.provider('hmac', { type: 'generic-hmac', address: `${hmac.url}/signed`, secretRef: { name: 'hmac-token' } }),
      manifests.alert('to-generic', 'generic'),
      manifests.alert('to-hmac', 'hmac', { eventMetadata: { cluster: 'kedge-test' } }),
    ]) {
      await engine.store.apply(object);
    }
    await eventually(async () => (await engine.store.get({ kind: 'Alert', namespace: 'default', name: 'to-hmac' }))?.status);
    await engine.store.apply(manifests.gitRepository('app', repo.url));
    const commit = repo.revParse();

    await eventually(() => generic.requests.length >= 1 && hmac.requests.length >= 1, { what: 'both endpoints to be called' });
    const [event] = posted(generic);
    expect(event).toMatchObject({
      involvedObject: { kind: 'GitRepository', name: 'app', namespace: 'default', apiVersion: 'source.toolkit.fluxcd.io/v1' },
      severity: 'info',
      reason: 'NewArtifact',
      metadata: { 'source.toolkit.fluxcd.io/revision': `main@sha1:${commit}` },
      reportingController: 'source-controller',
    });
    expect(event?.message).toContain('stored artifact');
    expect(event?.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(event?.reportingInstance).toBeTruthy();
    expect(generic.requests[0]?.headers['gotk-component']).toBe('source-controller');
    expect(generic.requests[0]?.path).toBe('/hook');

    const signed = hmac.requests[0]!;
    const expected = `sha256=${createHmac('sha256', token).update(signed.body).digest('hex')}`;
    expect(signed.headers['x-signature']).toBe(expected);
    expect((signed.json() as PostedEvent).metadata).toMatchObject({ cluster: 'kedge-test' });
  });

  it('filters by severity and by inclusion/exclusion lists, exclusion winning', async () => {
    const { engine, repo } = await setup();
    const errorsOnly = await endpoint();
    const included = await endpoint();
    const excluded = await endpoint();
    const all = await endpoint();
    for (const object of [
      manifests.provider('errors', { type: 'generic', address: errorsOnly.url }),
      manifests.provider('included', { type: 'generic', address: included.url }),
      manifests.provider('excluded', { type: 'generic', address: excluded.url }),
      manifests.provider('all', { type: 'generic', address: all.url }),
      manifests.alert('errors', 'errors', { eventSeverity: 'error' }),
      manifests.alert('included', 'included', { inclusionList: ['^stored artifact'] }),
      manifests.alert('excluded', 'excluded', { inclusionList: ['.*'], exclusionList: ['stored artifact'] }),
      manifests.alert('all', 'all', { eventSources: [{ kind: 'GitRepository', name: 'good' }, { kind: 'GitRepository', name: 'broken' }] }),
    ]) {
      await engine.store.apply(object);
    }
    await eventually(async () => (await engine.store.get({ kind: 'Alert', namespace: 'default', name: 'all' }))?.status);
    await engine.store.apply(manifests.gitRepository('good', repo.url));
    await engine.store.apply(manifests.gitRepository('broken', `file://${dirname(repo.dir)}/does-not-exist`));

    // The unfiltered alert sees both: the good repository's artifact and the broken one's failure.
    await eventually(() => {
      const reasons = posted(all).map((e) => `${e.involvedObject.name}:${e.severity}`);
      return reasons.includes('good:info') && reasons.includes('broken:error');
    }, { what: 'both events at the unfiltered endpoint' });
    await eventually(() => errorsOnly.requests.length > 0 && included.requests.length > 0, { what: 'filtered endpoints' });
    expect(posted(errorsOnly).every((e) => e.severity === 'error' && e.involvedObject.name === 'broken')).toBe(true);
    expect(posted(included).map((e) => e.reason)).toEqual(['NewArtifact']);
    // Excluded alert: only the failure got through (its message does not say "stored artifact").
    await eventually(() => excluded.requests.length > 0, { what: 'excluded endpoint to get the failure' });
    expect(posted(excluded).every((e) => !e.message.includes('stored artifact'))).toBe(true);
  });
});
