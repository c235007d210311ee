import { CollectionWatch, type WatchEventType } from './collection-watch.ts';
import type { KubeConfig } from '@kubernetes/client-node';
import type { KubeRest } from './kube-rest.ts';
import { identityOf, objectId, type KubeObject } from './object-id.ts';

/** What a subscriber of a {@link SharedInformer} is told. */
export interface InformerListener {
  /** The full state after a (re-)list: every object the informer holds. */
  onList(items: ReadonlyMap<string, KubeObject>): void;
  onEvent(type: WatchEventType, object: KubeObject): void;
  onError?(error: unknown): void;
}

/**
 * One list-then-watch of a kind (cluster-wide, or one namespace) shared by every drift watch and in-sync check
 * of one cluster target, holding the live objects it saw by inventory id — after client-go's shared informer.
 * Re-lists when the watch breaks or expires (410), and tells every listener the full state again, so a missed
 * event is found at the re-list. Idle cost: one open stream per kind, however many Kustomizations use it.
 */
export class SharedInformer {
  readonly #objects = new Map<string, KubeObject>();
  readonly #listeners = new Set<InformerListener>();
  readonly #watch: CollectionWatch;
  #started: Promise<void> | undefined;
  #healthy = false;
  #lists = 0;

  constructor(options: {
    kubeConfig: KubeConfig;
    rest: KubeRest;
    apiVersion: string;
    kind: string;
    path: string;
    labelSelector: string;
  }) {
    this.#watch = new CollectionWatch({
      ...options,
      onList: (items) => {
        this.#objects.clear();
        for (const item of items) this.#objects.set(objectId(identityOf(item)), item);
        this.#healthy = true;
        this.#lists++;
        for (const l of this.#listeners) l.onList(this.#objects);
      },
      onEvent: (type, object) => {
        const id = objectId(identityOf(object));
        if (type === 'DELETED') this.#objects.delete(id);
        else this.#objects.set(id, object);
        for (const l of this.#listeners) l.onEvent(type, object);
      },
      onError: (error) => {
        // Until the re-list, the held state may lag: in-sync checks fall back to reading the server.
        this.#healthy = false;
        for (const l of this.#listeners) l.onError?.(error);
      },
    });
  }

  /** Resolves once the first list is held; a failed first list rejects and may be retried by calling again. */
  start(): Promise<void> {
    this.#started ??= this.#watch.start().catch((error: unknown) => {
      this.#started = undefined;
      throw error;
    });
    return this.#started;
  }

  /** Adds a listener; it gets the current state at once when the informer has listed. Returns unsubscribe. */
  subscribe(listener: InformerListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The live object as last seen, by inventory id; undefined when the informer holds none. */
  get(id: string): KubeObject | undefined {
    return this.#objects.get(id);
  }

  /** Every object held, by inventory id. */
  get all(): ReadonlyMap<string, KubeObject> {
    return this.#objects;
  }

  /** Listed and watching, with no failure since the last list: what it holds is the server's state less in-flight events. */
  get healthy(): boolean {
    return this.#healthy;
  }

  /** How many times it listed (the first list counts): a re-list after a broken watch increments it. */
  get lists(): number {
    return this.#lists;
  }

  stop(): void {
    this.#watch.stop();
    this.#listeners.clear();
    this.#healthy = false;
  }
}
