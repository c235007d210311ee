import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HistoryEntry } from '../api/history.ts';
import type { KObject, ObjectRef } from '../api/meta.ts';
import { eventually } from '../../test/harness/eventually.ts';
import {
  ConflictError,
  InvalidObjectError,
  NotFoundError,
  type EventFilter,
  type ListOptions,
  type Store,
  type WatchEvent,
} from './store.ts';

/**
 * Where implementations must differ, and why: the ONE place the suite varies its expectations (given to
 * {@link describeStoreConformance}); nothing else is skipped or relaxed per implementation.
 */
export interface StoreCapabilities {
  /**
   * Core kinds without spec (ConfigMap, Secret) get a `generation` that counts changes of their data.
   * SQLite: yes. Kubernetes: no — the API server keeps no generation for them, and turns `stringData` into `data`.
   */
  coreKindGeneration: boolean;
  /**
   * What the store's schema adds to a GitRepository the suite writes: nothing for SQLite and Kedge's CRDs;
   * Flux's own CRD defaults `spec.timeout` to `60s` and a new object's `status` to `observedGeneration: -1`.
   */
  gitRepositoryDefaults: { spec?: Record<string, unknown>; status?: Record<string, unknown> };
  /**
   * When a new watch starts seeing other processes' changes. SQLite: at once (`watch` returns subscribed).
   * Kubernetes: once the kind's first list is in, as an informer — what another process wrote before that is
   * part of the list, not an event. The suite then waits with `untilWatching` before another process writes.
   */
  watchSeesOthersAtOnce: boolean;
  /** With `watchSeesOthersAtOnce: false`: resolves once `store`'s watch of `kind` has its first list. */
  untilWatching?: (store: Store, kind: string) => Promise<void>;
}

/** What a conformance run needs from one Store implementation. */
export interface StoreUnderTest {
  /** A fresh store, empty in `namespaces`. The suite closes it. */
  store: Store;
  /** Opens a second instance on the same data, as another process would; the suite closes it. */
  openAnother?: () => Promise<Store>;
  /** Removes what `open` created; called after the stores are closed. */
  cleanup(): Promise<void>;
  /**
   * The two namespaces the suite writes to; an object without namespace must land in the first. Default
   * `default` and `team-a`. A store may hold objects in other namespaces (a shared cluster): the suite looks
   * at its own namespaces only.
   */
  namespaces?: [string, string];
}

const fullCapabilities: StoreCapabilities = {
  coreKindGeneration: true,
  gitRepositoryDefaults: {},
  watchSeesOthersAtOnce: true,
};

/** A status as Flux writes it (every field Flux's CRD schema requires), so every store keeps it as written. */
const artifact = (revision: string) => ({
  revision,
  digest: 'sha256:3f1c0a5e',
  path: 'gitrepository/default/podinfo/abc.tar.gz',
  url: 'http://127.0.0.1:9090/gitrepository/default/podinfo/abc.tar.gz',
  lastUpdateTime: '2026-01-01T00:00:00Z',
});

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

const newSpec = { url: 'https://example.com/new.git', interval: '1m' };

const summary = (events: WatchEvent[]): string[] =>
  events.map((e) => `${e.type} ${e.object.kind}/${e.object.metadata.name}`);

/**
 * The one conformance suite every {@link Store} implementation must pass. Uses the namespaces `default` and
 * `team-a` and the kinds GitRepository and ConfigMap; `open` must hand out a store in which they are empty.
 * Watch delivery is awaited with `eventually`, so implementations that deliver asynchronously pass too.
 */
export function describeStoreConformance(
  name: string,
  open: () => Promise<StoreUnderTest>,
  capabilities: Partial<StoreCapabilities> = {},
): void {
  const caps: StoreCapabilities = { ...fullCapabilities, ...capabilities };
  describe(`Store conformance: ${name}`, () => {
    let sut: StoreUnderTest;
    let store: Store;
    let main = 'default';
    let other = 'team-a';
    const extra: Store[] = [];
    const oursNs = (namespace: string | undefined): boolean => [main, other].includes(namespace ?? '');
    const ours = (object: KObject): boolean => oursNs(object.metadata.namespace);
    const refTo = (object: KObject): ObjectRef => ({
      kind: object.kind,
      namespace: object.metadata.namespace ?? main,
      name: object.metadata.name,
    });
    /** Collects the watch events of `kind` in the suite's namespaces into an array, until `stop` is called. */
    const record = (on: Store, kind: string | undefined): { events: WatchEvent[]; stop: () => void } => {
      const events: WatchEvent[] = [];
      const stop = on.watch(kind, (event) => {
        if (ours(event.object)) events.push(event);
      });
      return { events, stop };
    };
    /** A GitRepository spec as the store keeps it: with what its schema defaults. */
    const stored = (spec: unknown): unknown => ({ ...(spec as object), ...caps.gitRepositoryDefaults.spec });

    beforeEach(async () => {
      sut = await open();
      store = sut.store;
      [main, other] = sut.namespaces ?? ['default', 'team-a'];
    });

    afterEach(async () => {
      for (const another of extra.splice(0)) await another.close();
      await store.close();
      await sut.cleanup();
    });

    it('creates an object with identity, generation 1 and the default namespace, and gets it back', async () => {
      const { object, result } = await store.apply(gitRepository('podinfo'));
      expect(result).toBe('created');
      expect(object.metadata).toMatchObject({ name: 'podinfo', namespace: main, generation: 1 });
      expect(object.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
      expect(object.metadata.resourceVersion).toMatch(/^\d+$/);
      expect(Date.parse(object.metadata.creationTimestamp ?? '')).not.toBeNaN();
      expect(object.spec).toEqual(stored(gitRepository('podinfo').spec));
      expect(object.status).toEqual(caps.gitRepositoryDefaults.status);
      expect(await store.get(refTo(object))).toEqual(object);
      expect(await store.get({ kind: 'GitRepository', namespace: main, name: 'missing' })).toBeUndefined();
      expect(await store.get({ kind: 'Kustomization', namespace: main, name: 'podinfo' })).toBeUndefined();
    });

    it('hands out copies: changing a returned object changes nothing stored', async () => {
      const { object } = await store.apply(gitRepository('podinfo'));
      (object.spec as { url: string }).url = 'https://changed.example.com';
      object.metadata.labels = { changed: 'yes' };
      const again = await store.get(refTo(object));
      expect(again?.spec).toEqual(stored(gitRepository('podinfo').spec));
      expect(again?.metadata.labels).toBeUndefined();
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

      // `main` and `other` are only known once the store is open: the table names them by role.
      it.each([
        ['all namespaces', {}, ['main/a', 'main/b', 'other/c']],
        ['one namespace', { namespace: 'main' }, ['main/a', 'main/b']],
        ['another namespace', { namespace: 'other' }, ['other/c']],
        ['an empty namespace', { namespace: 'nobody-uses-this' }, []],
        ['one label', { labels: { tier: 'web' } }, ['main/a', 'other/c']],
        ['two labels', { labels: { tier: 'web', team: 'x' } }, ['main/a']],
        ['a label and a namespace', { namespace: 'other', labels: { team: 'x' } }, []],
        ['a label nobody has', { labels: { tier: 'cache' } }, []],
      ])('filters by %s', async (_name, options: ListOptions, expected) => {
        const role = (ns: string | undefined) => (ns === main ? 'main' : ns === other ? 'other' : ns);
        const namespace = { main, other }[options.namespace as 'main' | 'other'] ?? options.namespace;
        const found = await store.list('GitRepository', { ...options, namespace });
        expect(
          found
            .filter(ours)
            .map((o) => `${role(o.metadata.namespace)}/${o.metadata.name}`)
            .sort(),
        ).toEqual(expected);
      });

      it('lists only the asked kind', async () => {
        const found = (await store.list('ConfigMap')).filter(ours);
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

      it.skipIf(!caps.coreKindGeneration).each([
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
        const fresh = await store.updateStatus(refTo(object), { lastHandledReconcileAt: 'one' }, stale);
        await expect(
          store.updateStatus(refTo(object), { lastHandledReconcileAt: 'two' }, stale),
        ).rejects.toBeInstanceOf(ConflictError);
        await expect(
          store.update({ ...object, metadata: { ...object.metadata, labels: { a: 'b' } } }),
        ).rejects.toBeInstanceOf(ConflictError);
        expect((await store.get(refTo(object)))?.status).toEqual({ lastHandledReconcileAt: 'one' });
        const updated = await store.update({ ...fresh, metadata: { ...fresh.metadata, labels: { a: 'b' } } });
        expect(updated.metadata.labels).toEqual({ a: 'b' });
        expect(updated.status).toEqual({ lastHandledReconcileAt: 'one' });
      });

      it('applies without regard to resourceVersion', async () => {
        const { object } = await store.apply(gitRepository('podinfo'));
        await store.updateStatus(refTo(object), { lastHandledReconcileAt: 'one' });
        const { result } = await store.apply(
          gitRepository('podinfo', { spec: { ...newSpec, url: 'https://example.com/other.git' } }),
        );
        expect(result).toBe('configured');
      });
    });

    describe('status', () => {
      it('apply never touches status, and keeps finalizers', async () => {
        const { object } = await store.apply(gitRepository('podinfo'));
        await store.updateStatus(refTo(object), { artifact: artifact('main@sha1:abc') });
        const current = await store.get(refTo(object));
        await store.update({
          ...current!,
          metadata: { ...current!.metadata, finalizers: ['finalizers.fluxcd.io'] },
        });
        const changed = {
          ...gitRepository('podinfo', { spec: newSpec }),
          status: { artifact: null },
        };
        const { object: applied } = await store.apply(changed);
        expect(applied.status).toEqual({ artifact: artifact('main@sha1:abc') });
        expect(applied.metadata.finalizers).toEqual(['finalizers.fluxcd.io']);
        expect(applied.spec).toEqual(stored(newSpec));
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
        const first = await store.updateStatus(refTo(object), {
          observedGeneration: 1,
          artifact: artifact('main@sha1:abc'),
        });
        const second = await store.updateStatus(refTo(object), {
          artifact: { ...artifact('main@sha1:abc') },
          observedGeneration: 1,
        });
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
        await store.apply(gitRepository('podinfo', { spec: newSpec }));
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
        if (!caps.watchSeesOthersAtOnce) await caps.untilWatching!(store, 'GitRepository');
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
        involvedObject: { apiVersion: 'source.toolkit.fluxcd.io/v1', kind, namespace: main, name },
        reportingController: 'source-controller',
      });

      it('folds an identical event into one with a count', async () => {
        await store.recordEvent(event('podinfo', 'NewArtifact', 'stored artifact for commit abc'));
        await store.recordEvent(event('podinfo', 'NewArtifact', 'stored artifact for commit abc'));
        await store.recordEvent(event('podinfo', 'NewArtifact', 'stored artifact for commit def'));
        const events = (await store.listEvents({ name: 'podinfo' })).filter((e) =>
          oursNs(e.involvedObject.namespace),
        );
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
        expect((await store.listEvents({ namespace: main })).map((e) => e.reason)).toEqual(['A', 'B']);
      });

      it.each([
        [
          'name',
          { name: 'podinfo' },
          ['Kustomization/podinfo: three', 'GitRepository/podinfo: two', 'GitRepository/podinfo: one'],
        ],
        ['kind', { kind: 'Kustomization' }, ['Kustomization/podinfo: three']],
        ['kind and name', { kind: 'GitRepository', name: 'other' }, ['GitRepository/other: four']],
        ['another namespace', { namespace: 'other' }, []],
        ['limit', { namespace: 'main', limit: 1 }, ['GitRepository/other: four']],
      ])('filters by %s', async (_name, filter: EventFilter, expected) => {
        await store.recordEvent(event('podinfo', 'R', 'one'));
        await store.recordEvent(event('podinfo', 'R', 'two'));
        await store.recordEvent(event('podinfo', 'R', 'three', 'Kustomization'));
        await store.recordEvent(event('other', 'R', 'four'));
        const namespace = { main, other }[filter.namespace as 'main' | 'other'];
        const events = (await store.listEvents({ ...filter, namespace })).filter((e) =>
          oursNs(e.involvedObject.namespace),
        );
        expect(events.map((e) => `${e.involvedObject.kind}/${e.involvedObject.name}: ${e.message}`)).toEqual(
          expected,
        );
      });
    });

    describe('history', () => {
      const entry = (revision: string, created: string[] = []): HistoryEntry => ({
        time: new Date().toISOString(),
        durationMs: 12,
        revision,
        digest: 'sha256:3f1c0a5e',
        result: 'Succeeded',
        reason: 'ReconciliationSucceeded',
        message: `Applied revision: ${revision}`,
        changes: { created, configured: [], deleted: [] },
      });

      it('keeps entries per object, newest first, with ids, and only the newest `keep`', async () => {
        const { object } = await store.apply(gitRepository('podinfo'));
        const { object: otherRepo } = await store.apply(gitRepository('other'));
        const ref = refTo(object);
        for (const n of [1, 2, 3, 4])
          await store.appendHistory(ref, entry(`main@sha1:${n}`, [`App/${main}/a${n}`]), 3);
        await store.appendHistory(refTo(otherRepo), entry('main@sha1:9'), 3);
        const history = await store.listHistory(ref);
        expect(history.map((e) => e.revision)).toEqual(['main@sha1:4', 'main@sha1:3', 'main@sha1:2']);
        expect(history[0]?.changes.created).toEqual([`App/${main}/a4`]);
        expect(new Set(history.map((e) => e.id)).size).toBe(3);
        expect((await store.listHistory(ref, 1)).map((e) => e.revision)).toEqual(['main@sha1:4']);
        const ofKind = (await store.listHistoryOfKind('GitRepository')).filter((e) =>
          oursNs(e.ref.namespace),
        );
        expect(ofKind.map((e) => `${e.ref.name} ${e.entry.revision}`).sort()).toEqual([
          'other main@sha1:9',
          'podinfo main@sha1:2',
          'podinfo main@sha1:3',
          'podinfo main@sha1:4',
        ]);
        await store.deleteHistory(ref);
        expect(await store.listHistory(ref)).toEqual([]);
        expect(await store.listHistory(refTo(otherRepo))).toHaveLength(1);
      });

      it('refuses history of an object that does not exist', async () => {
        const ref = { kind: 'GitRepository', namespace: main, name: 'missing' };
        await expect(store.appendHistory(ref, entry('main@sha1:1'), 10)).rejects.toBeInstanceOf(
          NotFoundError,
        );
      });
    });
  });
}
