import type { KubeConfig } from '@kubernetes/client-node';
import type { KObject } from '../../api/meta.ts';
import { CollectionWatch } from '../../apply/collection-watch.ts';
import type { KubeRest } from '../../apply/kube-rest.ts';
import type { WatchEvent } from '../store.ts';
import { storedObject } from './stored-object.ts';

export interface KindWatchOptions {
  kubeConfig: KubeConfig;
  rest: KubeRest;
  kind: string;
  apiVersion: string;
  /** The collection path: one namespace or all. */
  path: string;
  labelSelector?: string;
  /** Delivers one change to every subscriber. */
  deliver(event: WatchEvent): void;
  onError(error: unknown): void;
}

/** A waiter for a state of the watched collection. */
interface Waiter {
  ready(): boolean;
  resolve(): void;
}

/**
 * The list+watch of one kind, shared by every subscriber of the store: holds the last state of each watched
 * object, delivers each change once and in order (a replayed event whose resourceVersion it already holds is
 * dropped), resumes on the last resourceVersion (events and bookmarks) and, when that has expired (410 Gone)
 * or the connection failed, re-lists and delivers exactly the differences to what it held: ADDED for new
 * objects, MODIFIED for changed ones, DELETED (with the last state held) for gone ones — an object deleted and
 * created again under the same name is DELETED then ADDED. Retries with backoff while the API server is away.
 */
export class KindWatch {
  readonly #objects = new Map<string, KObject>();
  readonly #watch: CollectionWatch;
  readonly #waiters = new Set<Waiter>();
  #synced = false;
  #healthy = false;
  #firstListSettled = false;
  #stopped = false;
  #resourceVersion = 0n;
  #lists = 0;
  #retry: NodeJS.Timeout | undefined;

  constructor(private readonly opts: KindWatchOptions) {
    this.#watch = new CollectionWatch({
      kubeConfig: opts.kubeConfig,
      rest: opts.rest,
      path: opts.path,
      apiVersion: opts.apiVersion,
      kind: opts.kind,
      labelSelector: opts.labelSelector,
      onList: (items, resourceVersion) => this.#onList(items, resourceVersion),
      onEvent: (type, object) => {
        this.#healthy = this.#synced;
        this.#onEvent(type, object);
      },
      onBookmark: (resourceVersion) => this.#advance(resourceVersion),
      onError: (error) => {
        // Until the next list, what it holds may lag behind the server.
        this.#healthy = false;
        opts.onError(error);
      },
    });
  }

  /** Starts listing and watching; a failed first list is retried with backoff (1 s doubling to 30 s). */
  start(delayMs = 1000): void {
    this.#watch.start().catch((error: unknown) => {
      if (this.#stopped) return;
      this.#firstListSettled = true;
      this.#advance(undefined);
      this.opts.onError(error);
      this.#retry = setTimeout(() => this.start(Math.min(delayMs * 2, 30_000)), delayMs);
    });
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retry);
    this.#watch.stop();
    for (const waiter of this.#waiters) waiter.resolve();
    this.#waiters.clear();
  }

  /** True once the first list was held. */
  /** True once the first list succeeded or failed (a watch that cannot list must not hold writes up). */
  get firstListSettled(): boolean {
    return this.#firstListSettled || this.#synced;
  }

  get synced(): boolean {
    return this.#synced;
  }

  /** Listed, and no list or watch failed since: what it holds is the server's state less events in flight. */
  get healthy(): boolean {
    return this.#synced && this.#healthy && !this.#stopped;
  }

  /** How many times it listed: 1 after the start, more after each re-list (410 Gone, a failed watch). */
  get lists(): number {
    return this.#lists;
  }

  /** The watched state of one object (`namespace/name`), as last delivered. */
  held(key: string): KObject | undefined {
    return this.#objects.get(key);
  }

  /** Resolves when `ready()` holds (checked now and after every delivery), or after `timeoutMs` regardless. */
  until(ready: () => boolean, timeoutMs: number): Promise<void> {
    if (this.#stopped || ready()) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(), timeoutMs);
      const waiter: Waiter = { ready, resolve: () => done() };
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
        resolve();
      };
      this.#waiters.add(waiter);
    });
  }

  /** True once the watch has seen the collection at `resourceVersion` or later. */
  seen(resourceVersion: string): boolean {
    return this.#synced && this.#resourceVersion >= toNumber(resourceVersion);
  }

  #onList(items: unknown[], resourceVersion: string): void {
    const listed = new Map<string, KObject>();
    for (const item of items) {
      const object = storedObject(item as KObject);
      listed.set(keyOf(object), object);
    }
    const first = !this.#synced;
    this.#synced = true;
    this.#healthy = true;
    this.#lists++;
    if (!first) {
      for (const [key, before] of this.#objects) {
        const now = listed.get(key);
        if (now === undefined || now.metadata.uid !== before.metadata.uid)
          this.opts.deliver({ type: 'DELETED', object: before });
      }
      for (const [key, now] of listed) {
        const before = this.#objects.get(key);
        if (before === undefined || before.metadata.uid !== now.metadata.uid)
          this.opts.deliver({ type: 'ADDED', object: now });
        else if (before.metadata.resourceVersion !== now.metadata.resourceVersion)
          this.opts.deliver({ type: 'MODIFIED', object: now });
      }
    }
    this.#objects.clear();
    for (const [key, object] of listed) this.#objects.set(key, object);
    this.#advance(resourceVersion);
  }

  #onEvent(type: WatchEvent['type'], raw: KObject): void {
    const object = storedObject(raw);
    const key = keyOf(object);
    const before = this.#objects.get(key);
    if (type === 'DELETED') {
      if (before === undefined) return this.#advance(object.metadata.resourceVersion);
      this.#objects.delete(key);
    } else {
      // A replay after a resume of what is already held: delivered once already.
      if (
        before !== undefined &&
        toNumber(before.metadata.resourceVersion) >= toNumber(object.metadata.resourceVersion)
      )
        return this.#advance(object.metadata.resourceVersion);
      this.#objects.set(key, object);
      if (before !== undefined && before.metadata.uid !== object.metadata.uid)
        this.opts.deliver({ type: 'DELETED', object: before });
      type = before === undefined || before.metadata.uid !== object.metadata.uid ? 'ADDED' : 'MODIFIED';
    }
    this.opts.deliver({ type, object });
    this.#advance(object.metadata.resourceVersion);
  }

  #advance(resourceVersion: string | undefined): void {
    const version = toNumber(resourceVersion);
    if (version > this.#resourceVersion) this.#resourceVersion = version;
    for (const waiter of [...this.#waiters]) if (waiter.ready()) waiter.resolve();
  }
}

export function keyOf(object: KObject): string {
  return `${object.metadata.namespace ?? ''}/${object.metadata.name}`;
}

/** resourceVersions are etcd revisions: decimal integers, compared as such (0 when absent or not a number). */
function toNumber(resourceVersion: string | undefined): bigint {
  return resourceVersion !== undefined && /^\d+$/.test(resourceVersion) ? BigInt(resourceVersion) : 0n;
}
