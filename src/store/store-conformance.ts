import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KObject, ObjectRef } from '../api/meta.ts';
import { eventually } from '../../test/harness/eventually.ts';
import { ConflictError, InvalidObjectError, NotFoundError, type Store, type WatchEvent } from './store.ts';

/** What a conformance run needs from one Store implementation. */
export interface StoreUnderTest {
  /** A fresh, empty store. The suite closes it. */
  store: Store;
  /** Opens a second instance on the same data, as another process would; the suite closes it. */
  openAnother?: () => Promise<Store>;
  /** Removes what `open` created; called after the stores are closed. */
  cleanup(): Promise<void>;
}

const other = 'team-a';

function gitRepository(
  name: string,
  fields: { namespace?: string; spec?: unknown; labels?: Record<string, string> } = {},
): KObject {
  return {
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'GitRepository',
    metadata: {
      name,
      ...(fields.namespace === undefined ? {} : { namespace: fields.namespace }),
      ...(fields.labels === undefined ? {} : { labels: fields.labels }),
    },
    spec: fields.spec ?? { url: 'https://example.com/repo.git', interval: '1m', ref: { branch: 'main' } },
  };
}

function configMap(name: string, data: Record<string, string>): KObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data };
}

function refTo(object: KObject): ObjectRef {
  return { kind: object.kind, namespace: object.metadata.namespace ?? 'default', name: object.metadata.name };
}

/** Collects the watch events of `kind` into an array, until `stop` is called. */
function record(store: Store, kind: string | undefined): { events: WatchEvent[]; stop: () => void } {
  const events: WatchEvent[] = [];
  const stop = store.watch(kind, (event) => events.push(event));
  return { events, stop };
}

const summary = (events: WatchEvent[]): string[] =>
  events.map((e) => `${e.type} ${e.object.kind}/${e.object.metadata.name}`);

/**
 * The one conformance suite every {@link Store} implementation must pass. Uses the namespaces `default` and
 * `team-a` and the kinds GitRepository and ConfigMap; `open` must hand out a store in which they are empty.
 * Watch delivery is awaited with `eventually`, so implementations that deliver asynchronously pass too.
 */
export function describeStoreConformance(name: string, open: () => Promise<StoreUnderTest>): void {
  describe(`Store conformance: ${name}`, () => {
    let sut: StoreUnderTest;
    let store: Store;
    const extra: Store[] = [];

    beforeEach(async () => {
      sut = await open();
      store = sut.store;
    });

    afterEach(async () => {
      for (const another of extra.splice(0)) await another.close();
      await store.close();
      await sut.cleanup();
    });

    it('creates an object with identity, generation 1 and the default namespace, and gets it back', async () => {
      const { object, result } = await store.apply(gitRepository('podinfo'));
      expect(result).toBe('created');
      expect(object.metadata).toMatchObject({ name: 'podinfo', namespace: 'default', generation: 1 });
      expect(object.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
      expect(object.metadata.resourceVersion).toMatch(/^\d+$/);
      expect(Date.parse(object.metadata.creationTimestamp ?? '')).not.toBeNaN();
      expect(object.spec).toEqual(gitRepository('podinfo').spec);
      expect(object.status).toBeUndefined();
      expect(await store.get(refTo(object))).toEqual(object);
      expect(
        await store.get({ kind: 'GitRepository', namespace: 'default', name: 'missing' }),
      ).toBeUndefined();
      expect(
        await store.get({ kind: 'Kustomization', namespace: 'default', name: 'podinfo' }),
      ).toBeUndefined();
    });

    it('hands out copies: changing a returned object changes nothing stored', async () => {
      const { object } = await store.apply(gitRepository('podinfo'));
      (object.spec as { url: string }).url = 'https://changed.example.com';
      object.metadata.labels = { changed: 'yes' };
      const stored = await store.get(refTo(object));
      expect(stored?.spec).toEqual(gitRepository('podinfo').spec);
      expect(stored?.metadata.labels).toBeUndefined();
    });

    it('rejects an object without a name', async () => {
      await expect(store.apply(gitRepository(''))).rejects.toBeInstanceOf(InvalidObjectError);
    });

    describe('list', () => {
      beforeEach(async () => {
        await store.apply(gitRepository('a', { labels: { tier: 'web', team: 'x' } }));
        await store.apply(gitRepository('b', { labels: { tier: 'db', team: 'x' } }));
        await store.apply(gitRepository('c', { namespace: other, labels: { tier: 'web', team: 'y' } }));
        await store.apply(configMap('a', { key: 'value' }));
      });

      it.each([
        ['all namespaces', {}, ['default/a', 'default/b', `${other}/c`]],
        ['one namespace', { namespace: 'default' }, ['default/a', 'default/b']],
        ['another namespace', { namespace: other }, [`${other}/c`]],
        ['an empty namespace', { namespace: 'nobody' }, []],
        ['one label', { labels: { tier: 'web' } }, ['default/a', `${other}/c`]],
        ['two labels', { labels: { tier: 'web', team: 'x' } }, ['default/a']],
        ['a label and a namespace', { namespace: other, labels: { team: 'x' } }, []],
        ['a label nobody has', { labels: { tier: 'cache' } }, []],
      ])('filters by %s', async (_name, options, expected) => {
        const found = await store.list('GitRepository', options);
        expect(found.map((o) => `${o.metadata.namespace}/${o.metadata.name}`).sort()).toEqual(expected);
      });

      it('lists only the asked kind', async () => {
        const found = await store.list('ConfigMap');
        expect(found.map((o) => [o.kind, o.metadata.name])).toEqual([['ConfigMap', 'a']]);
      });
    });

    describe('generation and resourceVersion', () => {
      const cases: { name: string; change: (o: KObject) => void; generation: number; result: string }[] = [
        {
          name: 'a spec change bumps it',
          change: (o) => ((o.spec as { interval: string }).interval = '5m'),
          generation: 2,
          result: 'configured',
        },
        {
          name: 'a spec with keys in another order is unchanged',
          change: (o) =>
            (o.spec = { ref: { branch: 'main' }, interval: '1m', url: 'https://example.com/repo.git' }),
          generation: 1,
          result: 'unchanged',
        },
        {
          name: 'a label change keeps it',
          change: (o) => (o.metadata.labels = { tier: 'web' }),
          generation: 1,
          result: 'configured',
        },
        {
          name: 'an annotation change keeps it',
          change: (o) => (o.metadata.annotations = { 'reconcile.fluxcd.io/requestedAt': 'now' }),
          generation: 1,
          result: 'configured',
        },
        {
          name: 'a status in the applied object is ignored',
          change: (o) => (o.status = { observedGeneration: 7 }),
          generation: 1,
          result: 'unchanged',
        },
      ];

      it.each(cases)('apply: $name', async ({ change, generation, result }) => {
        const first = await store.apply(gitRepository('podinfo'));
        const changed = gitRepository('podinfo');
        change(changed);
        const second = await store.apply(changed);
        expect(second.result).toBe(result);
        expect(second.object.metadata.generation).toBe(generation);
        expect(second.object.metadata.uid).toBe(first.object.metadata.uid);
        if (result === 'unchanged')
          expect(second.object.metadata.resourceVersion).toBe(first.object.metadata.resourceVersion);
        else expect(second.object.metadata.resourceVersion).not.toBe(first.object.metadata.resourceVersion);
        expect(await store.get(refTo(changed))).toEqual(second.object);
      });

      it.each([
        ['ConfigMap data', { apiVersion: 'v1', kind: 'ConfigMap', data: { a: '1' } }, { data: { a: '2' } }],
        [
          'Secret type',
          { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', data: { a: 'MQ==' } },
          { type: 'kubernetes.io/basic-auth' },
        ],
        [
          'Secret stringData',
          { apiVersion: 'v1', kind: 'Secret', stringData: { a: '1' } },
          { stringData: { a: '2' } },
        ],
      ])('a change of %s bumps it for kinds without spec', async (_name, base, change) => {
        const object = { ...base, metadata: { name: 'core' } } as KObject;
        await store.apply(object);
        await store.apply({ ...object, metadata: { name: 'core', labels: { only: 'label' } } });
        const { object: changed } = await store.apply({ ...object, ...change });
        expect(changed.metadata.generation).toBe(2);
        expect(changed).toMatchObject(change);
      });

      it('keeps generation on status writes and changes resourceVersion on every write', async () => {
        const { object } = await store.apply(gitRepository('podinfo'));
        const versions = [object.metadata.resourceVersion];
        const withStatus = await store.updateStatus(refTo(object), { observedGeneration: 1 });
        versions.push(withStatus.metadata.resourceVersion);
        const updated = await store.update({
          ...withStatus,
          metadata: { ...withStatus.metadata, labels: { a: 'b' } },
        });
        versions.push(updated.metadata.resourceVersion);
        expect(new Set(versions).size).toBe(3);
        expect(withStatus.metadata.generation).toBe(1);
        expect(updated.metadata.generation).toBe(1);
      });

      it('rejects writes that carry a stale resourceVersion', async () => {
        const { object } = await store.apply(gitRepository('podinfo'));
        const stale = object.metadata.resourceVersion;
        const fresh = await store.updateStatus(refTo(object), { phase: 'one' }, stale);
        await expect(store.updateStatus(refTo(object), { phase: 'two' }, stale)).rejects.toBeInstanceOf(
          ConflictError,
        );
        await expect(
          store.update({ ...object, metadata: { ...object.metadata, labels: { a: 'b' } } }),
        ).rejects.toBeInstanceOf(ConflictError);
        expect((await store.get(refTo(object)))?.status).toEqual({ phase: 'one' });
        const updated = await store.update({ ...fresh, metadata: { ...fresh.metadata, labels: { a: 'b' } } });
        expect(updated.metadata.labels).toEqual({ a: 'b' });
        expect(updated.status).toEqual({ phase: 'one' });
      });

      it('applies without regard to resourceVersion', async () => {
        const { object } = await store.apply(gitRepository('podinfo'));
        await store.updateStatus(refTo(object), { phase: 'one' });
        const { result } = await store.apply(
          gitRepository('podinfo', { spec: { url: 'https://example.com/other.git' } }),
        );
        expect(result).toBe('configured');
      });
    });

    describe('status', () => {
      it('apply never touches status, and keeps finalizers', async () => {
        const { object } = await store.apply(gitRepository('podinfo'));
        await store.updateStatus(refTo(object), { artifact: { revision: 'main@sha1:abc' } });
        const current = await store.get(refTo(object));
        await store.update({
          ...current!,
          metadata: { ...current!.metadata, finalizers: ['finalizers.fluxcd.io'] },
        });
        const changed = {
          ...gitRepository('podinfo', { spec: { url: 'https://example.com/new.git' } }),
          status: { artifact: null },
        };
        const { object: applied } = await store.apply(changed);
        expect(applied.status).toEqual({ artifact: { revision: 'main@sha1:abc' } });
        expect(applied.metadata.finalizers).toEqual(['finalizers.fluxcd.io']);
        expect(applied.spec).toEqual({ url: 'https://example.com/new.git' });
      });

      it('updateStatus touches only status', async () => {
        const { object } = await store.apply(gitRepository('podinfo', { labels: { a: 'b' } }));
        const updated = await store.updateStatus(refTo(object), { observedGeneration: 1 });
        expect(updated.status).toEqual({ observedGeneration: 1 });
        expect({
          ...updated,
          status: undefined,
          metadata: { ...updated.metadata, resourceVersion: '' },
        }).toEqual({
          ...object,
          status: undefined,
          metadata: { ...object.metadata, resourceVersion: '' },
        });
        const replaced = await store.updateStatus(refTo(object), { conditions: [] });
        expect(replaced.status).toEqual({ conditions: [] });
      });

      it('writing the same status again changes nothing', async () => {
        const { object } = await store.apply(gitRepository('podinfo'));
        const first = await store.updateStatus(refTo(object), { a: 1, b: { c: 2 } });
        const second = await store.updateStatus(refTo(object), { b: { c: 2 }, a: 1 });
        expect(second.metadata.resourceVersion).toBe(first.metadata.resourceVersion);
      });

      it('update and updateStatus of a missing object fail with NotFoundError', async () => {
        await expect(store.update(gitRepository('missing'))).rejects.toBeInstanceOf(NotFoundError);
        await expect(store.updateStatus(refTo(gitRepository('missing')), {})).rejects.toBeInstanceOf(
          NotFoundError,
        );
      });
    });

    describe('delete', () => {
      it('removes an object without finalizers', async () => {
        const { object } = await store.apply(gitRepository('podinfo'));
        expect(await store.delete(refTo(object))).toBe(true);
        expect(await store.get(refTo(object))).toBeUndefined();
        expect(await store.delete(refTo(object))).toBe(false);
      });

      it('only marks an object with finalizers, which goes once an update empties them', async () => {
        const { object } = await store.apply({
          ...gitRepository('podinfo'),
          metadata: { name: 'podinfo', finalizers: ['f'] },
        });
        expect(await store.delete(refTo(object))).toBe(true);
        const marked = await store.get(refTo(object));
        expect(marked?.metadata.deletionTimestamp).toBeDefined();
        expect(marked?.metadata.finalizers).toEqual(['f']);
        expect(await store.delete(refTo(object))).toBe(true);
        await store.update({ ...marked!, metadata: { ...marked!.metadata, finalizers: [] } });
        expect(await store.get(refTo(object))).toBeUndefined();
      });
    });

    describe('watch', () => {
      it('delivers ADDED, MODIFIED and DELETED in order, only of the watched kind', async () => {
        const { events, stop } = record(store, 'GitRepository');
        const all = record(store, undefined);
        const { object } = await store.apply(gitRepository('podinfo'));
        await store.apply(configMap('settings', { a: '1' }));
        await store.apply(gitRepository('podinfo', { spec: { url: 'https://example.com/new.git' } }));
        await store.updateStatus(refTo(object), { observedGeneration: 2 });
        await store.delete(refTo(object));
        const expected = [
          'ADDED GitRepository/podinfo',
          'MODIFIED GitRepository/podinfo',
          'MODIFIED GitRepository/podinfo',
          'DELETED GitRepository/podinfo',
        ];
        await eventually(() => expect(summary(events)).toEqual(expected));
        await eventually(() => expect(all.events).toHaveLength(5));
        expect(events[1]?.object.metadata.generation).toBe(2);
        expect(events[2]?.object.status).toEqual({ observedGeneration: 2 });
        expect(events[3]?.object.metadata.name).toBe('podinfo');
        const versions = events.map((e) => Number(e.object.metadata.resourceVersion));
        expect(versions).toEqual([...versions].sort((a, b) => a - b));
        expect(summary(all.events)[1]).toBe('ADDED ConfigMap/settings');
        stop();
        all.stop();
      });

      it('fires nothing for a write that changes nothing', async () => {
        await store.apply(gitRepository('podinfo'));
        const { events, stop } = record(store, undefined);
        await store.apply(gitRepository('podinfo'));
        await store.apply(gitRepository('marker'));
        await eventually(() => expect(summary(events)).toEqual(['ADDED GitRepository/marker']));
        stop();
      });

      it('stops delivering after unsubscribe', async () => {
        const first = record(store, 'GitRepository');
        const second = record(store, 'GitRepository');
        await store.apply(gitRepository('one'));
        await eventually(() => expect(first.events).toHaveLength(1));
        first.stop();
        await store.apply(gitRepository('two'));
        await eventually(() =>
          expect(summary(second.events)).toEqual(['ADDED GitRepository/one', 'ADDED GitRepository/two']),
        );
        expect(summary(first.events)).toEqual(['ADDED GitRepository/one']);
        second.stop();
      });

      it('sees the writes of a second store instance', async (context) => {
        if (sut.openAnother === undefined) return context.skip();
        const another = await sut.openAnother();
        extra.push(another);
        const { events, stop } = record(store, 'GitRepository');
        const { object } = await another.apply(gitRepository('podinfo'));
        await store.apply(gitRepository('local'));
        await another.updateStatus(refTo(object), { observedGeneration: 1 });
        await eventually(() => expect(events).toHaveLength(3));
        expect(summary(events).sort()).toEqual([
          'ADDED GitRepository/local',
          'ADDED GitRepository/podinfo',
          'MODIFIED GitRepository/podinfo',
        ]);
        expect(events.find((e) => e.type === 'MODIFIED')?.object.status).toEqual({ observedGeneration: 1 });
        expect(summary(events).indexOf('ADDED GitRepository/podinfo')).toBeLessThan(
          summary(events).indexOf('MODIFIED GitRepository/podinfo'),
        );
        stop();
      });
    });

    describe('events', () => {
      const event = (name: string, reason: string, message: string, kind = 'GitRepository') => ({
        type: 'Normal' as const,
        reason,
        message,
        involvedObject: { apiVersion: 'source.toolkit.fluxcd.io/v1', kind, namespace: 'default', name },
        reportingController: 'source-controller',
      });

      it('folds an identical event into one with a count', async () => {
        await store.recordEvent(event('podinfo', 'NewArtifact', 'stored artifact for commit abc'));
        await store.recordEvent(event('podinfo', 'NewArtifact', 'stored artifact for commit abc'));
        await store.recordEvent(event('podinfo', 'NewArtifact', 'stored artifact for commit def'));
        const events = await store.listEvents({ name: 'podinfo' });
        expect(events.map((e) => [e.message, e.count])).toEqual([
          ['stored artifact for commit def', 1],
          ['stored artifact for commit abc', 2],
        ]);
        expect(events[1]?.firstTimestamp).toBeDefined();
        expect(events[1]?.lastTimestamp).toBeDefined();
      });

      it('lists the most recently seen first, and a repeat moves an event to the front', async () => {
        await store.recordEvent(event('podinfo', 'A', 'first'));
        await store.recordEvent(event('podinfo', 'B', 'second'));
        await store.recordEvent(event('podinfo', 'A', 'first'));
        expect((await store.listEvents()).map((e) => e.reason)).toEqual(['A', 'B']);
      });

      it.each([
        [
          'name',
          { name: 'podinfo' },
          ['Kustomization/podinfo: three', 'GitRepository/podinfo: two', 'GitRepository/podinfo: one'],
        ],
        ['kind', { kind: 'Kustomization' }, ['Kustomization/podinfo: three']],
        ['kind and name', { kind: 'GitRepository', name: 'other' }, ['GitRepository/other: four']],
        ['namespace', { namespace: other }, []],
        ['limit', { limit: 1 }, ['GitRepository/other: four']],
      ])('filters by %s', async (_name, filter, expected) => {
        await store.recordEvent(event('podinfo', 'R', 'one'));
        await store.recordEvent(event('podinfo', 'R', 'two'));
        await store.recordEvent(event('podinfo', 'R', 'three', 'Kustomization'));
        await store.recordEvent(event('other', 'R', 'four'));
        const events = await store.listEvents(filter);
        expect(events.map((e) => `${e.involvedObject.kind}/${e.involvedObject.name}: ${e.message}`)).toEqual(
          expected,
        );
      });
    });
  });
}
