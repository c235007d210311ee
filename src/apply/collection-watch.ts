import type { KubeConfig } from '@kubernetes/client-node';
import type { KubeRest } from './kube-rest.ts';
import type { KubeObject } from './object-id.ts';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface CollectionWatchOptions {
  kubeConfig: KubeConfig;
  rest: KubeRest;
  /** Collection path, e.g. `/apis/apps/v1/namespaces/ns/deployments`. */
  path: string;
  /** Stamped on listed items, which the API server sends without apiVersion and kind. */
  apiVersion: string;
  kind: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** The full current state: once at start and again after every re-list (watch expired or broke). */
  onList(items: KubeObject[]): void;
  onEvent(type: WatchEventType, object: KubeObject): void;
  /** A list or watch failed; the watch retries by itself. */
  onError?(error: unknown): void;
}

/**
 * List-then-watch of one collection, like a client-go reflector: lists, watches from the list's
 * resourceVersion, and re-lists when the watch ends or expires (410), so no change is missed. Idle cost is one
 * open HTTP stream; no polling. `stop()` closes the stream and cancels pending retries.
 */
export class CollectionWatch {
  #stopped = false;
  #abort: AbortController | undefined;
  #retry: NodeJS.Timeout | undefined;
  #listAbort = new AbortController();

  constructor(private readonly opts: CollectionWatchOptions) {}

  /** Resolves once the first list was delivered and the watch is open; rejects when the first list fails. */
  async start(): Promise<void> {
    await this.#cycle(true);
  }

  stop(): void {
    this.#stopped = true;
    this.#listAbort.abort();
    clearTimeout(this.#retry);
    this.#abort?.abort();
    this.#abort = undefined;
  }

  async #cycle(first: boolean): Promise<void> {
    if (this.#stopped) return;
    const { rest, path, labelSelector, fieldSelector } = this.opts;
    let list: { metadata?: { resourceVersion?: string }; items?: KubeObject[] };
    try {
      list = await rest.request('GET', path, { query: { labelSelector, fieldSelector }, signal: this.#listAbort.signal });
    } catch (error) {
      if (first) throw error;
      this.#fail(error);
      return;
    }
    if (this.#stopped) return;
    this.opts.onList((list.items ?? []).map((item) => ({ ...item, apiVersion: this.opts.apiVersion, kind: this.opts.kind })));
    await this.#watch(list.metadata?.resourceVersion ?? '');
  }

  async #watch(resourceVersion: string): Promise<void> {
    let ended = false;
    const end = (error: unknown): void => {
      if (ended) return;
      ended = true;
      if (this.#stopped) return;
      if (error) this.#fail(error);
      else void this.#cycle(false).catch((e: unknown) => this.#fail(e));
    };
    const query: Record<string, string> = { resourceVersion, allowWatchBookmarks: 'true' };
    if (this.opts.labelSelector) query.labelSelector = this.opts.labelSelector;
    if (this.opts.fieldSelector) query.fieldSelector = this.opts.fieldSelector;
    // Loaded on first use: an engine with no cluster never pays for the Kubernetes client.
    const { Watch } = await import('@kubernetes/client-node');
    const controller = await new Watch(this.opts.kubeConfig).watch(
      this.opts.path,
      query,
      (type: string, object: KubeObject & { code?: number }) => {
        if (type === 'ERROR') end(object.code === 410 ? null : new Error(`watch ${this.opts.path}: ${String((object as { message?: string }).message)}`));
        else if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') this.opts.onEvent(type, object);
      },
      (error: unknown) => end(error),
    );
    if (this.#stopped || ended) controller.abort();
    else this.#abort = controller;
  }

  #fail(error: unknown): void {
    this.opts.onError?.(error);
    if (this.#stopped) return;
    this.#retry = setTimeout(() => void this.#cycle(false).catch((e: unknown) => this.#fail(e)), 1000);
  }
}
