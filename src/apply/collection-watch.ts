import type { KubeConfig } from '@kubernetes/client-node';
import type { KubeRest } from './kube-rest.ts';
import type { KubeObject } from './object-id.ts';

const retryMinMs = 1000;
const retryMaxMs = 30_000;

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
  /**
   * The full current state: once at start and again after every re-list (watch expired or broke), with the
   * list's resourceVersion.
   */
  onList(items: KubeObject[], resourceVersion: string): void;
  onEvent(type: WatchEventType, object: KubeObject): void;
  /** A bookmark: the server has sent every change up to `resourceVersion`. */
  onBookmark?(resourceVersion: string): void;
  /** A list or watch failed; the watch retries by itself. */
  onError?(error: unknown): void;
}

/**
 * List-then-watch of one collection, like a client-go reflector: lists, watches from the list's
 * resourceVersion, resumes from the last resourceVersion it saw (events and bookmarks) when the server ends the
 * watch, and re-lists when the watch expires (410) or fails (retrying with backoff, 1 s doubling to 30 s), so no change is
 * missed. Idle cost is one open HTTP
 * stream; no polling. `stop()` closes the stream and cancels pending retries.
 */
export class CollectionWatch {
  #stopped = false;
  #abort: AbortController | undefined;
  #retry: NodeJS.Timeout | undefined;
  #listAbort = new AbortController();
  #resourceVersion = '';
  /** Delay before the next retry after a failure: 1 s doubling to 30 s, back to 1 s after a successful list. */
  #failureDelayMs = retryMinMs;

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
      list = await rest.request('GET', path, {
        query: { labelSelector, fieldSelector },
        signal: this.#listAbort.signal,
      });
    } catch (error) {
      if (first) throw error;
      this.#fail(error);
      return;
    }
    if (this.#stopped) return;
    this.#resourceVersion = list.metadata?.resourceVersion ?? '';
    this.#failureDelayMs = retryMinMs;
    this.opts.onList(
      (list.items ?? []).map((item) => ({ ...item, apiVersion: this.opts.apiVersion, kind: this.opts.kind })),
      this.#resourceVersion,
    );
    await this.#watch(this.#resourceVersion);
  }

  async #watch(resourceVersion: string): Promise<void> {
    let ended = false;
    const startedAt = Date.now();
    const end = (how: 'resume' | 'relist' | Error): void => {
      if (ended) return;
      ended = true;
      if (this.#stopped) return;
      if (how instanceof Error) {
        // The server is busy or (re)initializing its watch cache (429, 5xx): resume later, as client-go does,
        // rather than re-list; an expired resourceVersion is then answered with 410 and re-listed.
        const status = (how as { statusCode?: number }).statusCode ?? 0;
        if (this.#resourceVersion && (status === 429 || status >= 500)) {
          this.opts.onError?.(how);
          const delay = this.#failureDelayMs;
          this.#failureDelayMs = Math.min(delay * 2, retryMaxMs);
          const resourceVersion = this.#resourceVersion;
          this.#retry = setTimeout(
            () => void this.#watch(resourceVersion).catch((e: unknown) => this.#fail(e)),
            delay,
          );
          return;
        }
        return this.#fail(status === 410 ? new Error(`watch ${this.opts.path}: 410 Gone`) : how);
      }
      const next = (): void => {
        if (this.#stopped) return;
        if (how === 'resume' && this.#resourceVersion)
          void this.#watch(this.#resourceVersion).catch((e: unknown) => this.#fail(e));
        else void this.#cycle(false).catch((e: unknown) => this.#fail(e));
      };
      // A stream that closes at once (a server shutting down) is not retried in a tight loop.
      if (Date.now() - startedAt < 1000) this.#retry = setTimeout(next, 1000);
      else next();
    };
    const query: Record<string, string> = { resourceVersion, allowWatchBookmarks: 'true' };
    if (this.opts.labelSelector) query.labelSelector = this.opts.labelSelector;
    if (this.opts.fieldSelector) query.fieldSelector = this.opts.fieldSelector;
    // Loaded on first use: an engine with no cluster never pays for the Kubernetes client.
    const { Watch } = await import('./client-node-watch.ts');
    const controller = await new Watch(this.opts.kubeConfig).watch(
      this.opts.path,
      query,
      (type: string, object: KubeObject & { code?: number }) => {
        // 410 Gone: the resourceVersion left the server's window; only a re-list can tell what changed since.
        if (type === 'ERROR')
          end(
            object.code === 410
              ? 'relist'
              : new Error(`watch ${this.opts.path}: ${String((object as { message?: string }).message)}`),
          );
        else if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED' || type === 'BOOKMARK') {
          const rv = (object.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
          if (rv) this.#resourceVersion = rv;
          this.#failureDelayMs = retryMinMs;
          if (type !== 'BOOKMARK') this.opts.onEvent(type, object);
          else if (rv) this.opts.onBookmark?.(rv);
        }
      },
      // A closed stream (the server's watch timeout, a dropped connection) resumes from the last resourceVersion
      // seen: the server replays every change since, or answers 410 and we re-list. A failed request re-lists,
      // but for a busy server (429, 5xx), which is asked again to resume.
      (error: unknown) =>
        end(
          error ? (error instanceof Error ? error : new Error(`watch ${this.opts.path} failed`)) : 'resume',
        ),
    );
    if (this.#stopped || ended) controller.abort();
    else this.#abort = controller;
  }

  #fail(error: unknown): void {
    this.opts.onError?.(error);
    if (this.#stopped) return;
    const delay = this.#failureDelayMs;
    this.#failureDelayMs = Math.min(delay * 2, retryMaxMs);
    this.#retry = setTimeout(() => void this.#cycle(false).catch((e: unknown) => this.#fail(e)), delay);
  }
}
