import { tmpdir } from 'node:os';
import { fetchArtifact, type ArtifactRef, type ExtractedArtifact } from './artifact-fetch.ts';

/** One reconcile's use of an extracted artifact: `root()` extracts it on first call, `release()` ends the use. */
export interface ArtifactLease {
  root(): Promise<string>;
  release(): Promise<void>;
}

interface Tree {
  extracted: Promise<ExtractedArtifact>;
  users: number;
}

/**
 * Extracted artifacts shared by every Kustomization that uses them: a revision is fetched, verified and
 * extracted (safely, `safe-extract.ts`) once under the engine's scratch dir and read by all the renders of it,
 * instead of once per reconcile. Keyed by digest; an entry is removed as soon as no reconcile uses it and it is
 * no longer the current artifact of a source, so old revisions leave no files behind. Renders only read the
 * tree (`RenderOptions.sharedRoot`). A failed extraction is not kept: the next use tries again.
 */
export class ArtifactTrees {
  readonly #trees = new Map<string, Tree>();
  /** Source (`Kind/namespace/name`) → digest of its current artifact. */
  readonly #current = new Map<string, string>();
  /** Aborts downloads in flight when the engine stops (one reconcile's abort does not: others may wait on it). */
  readonly #stop = new AbortController();

  constructor(private readonly options: { artifactRoot?: string; tmpRoot?: string } = {}) {}

  /** Extracted trees on disk or being extracted (for tests and metrics). */
  get size(): number {
    return this.#trees.size;
  }

  /**
   * A lease on `artifact` of `source`, extracted lazily: a reconcile whose render is cached never extracts.
   * The first lease of a source also records its artifact as current (later changes come from {@link current}).
   * `signal` ends this reconcile's wait for the extraction, not the extraction other reconciles may share.
   */
  lease(source: string, artifact: ArtifactRef, signal?: AbortSignal): ArtifactLease {
    if (!this.#current.has(source)) this.#current.set(source, artifact.digest);
    let held: Tree | undefined;
    return {
      root: async () => {
        held ??= this.#acquire(artifact);
        return (await abortable(held.extracted, signal)).root;
      },
      release: async () => {
        if (!held) return;
        const tree = held;
        held = undefined;
        tree.users -= 1;
        await this.#removeIfUnused(artifact.digest, tree);
      },
    };
  }

  /** `source` now has `digest` as its artifact (undefined: none, or the source was deleted). */
  async current(source: string, digest: string | undefined): Promise<void> {
    const before = this.#current.get(source);
    if (digest === undefined) this.#current.delete(source);
    else this.#current.set(source, digest);
    const tree = before !== undefined && before !== digest ? this.#trees.get(before) : undefined;
    if (before !== undefined && tree) await this.#removeIfUnused(before, tree);
  }

  /** Removes every tree (engine stop). */
  async close(): Promise<void> {
    this.#stop.abort(new Error('engine shutting down'));
    const trees = [...this.#trees.values()];
    this.#trees.clear();
    this.#current.clear();
    await Promise.all(
      trees.map((t) =>
        t.extracted.then(
          (e) => e.dispose(),
          () => undefined,
        ),
      ),
    );
  }

  #acquire(artifact: ArtifactRef): Tree {
    let tree = this.#trees.get(artifact.digest);
    if (!tree) {
      // Not tied to one reconcile's abort signal: other reconciles may be waiting for the same extraction.
      const extracted = fetchArtifact(
        artifact,
        this.options.artifactRoot,
        this.#stop.signal,
        this.options.tmpRoot ?? tmpdir(),
      );
      const created: Tree = { extracted, users: 0 };
      tree = created;
      this.#trees.set(artifact.digest, created);
      extracted.catch(() => {
        if (this.#trees.get(artifact.digest) === created) this.#trees.delete(artifact.digest);
      });
    }
    tree.users += 1;
    return tree;
  }

  async #removeIfUnused(digest: string, tree: Tree): Promise<void> {
    if (tree.users > 0 || [...this.#current.values()].includes(digest)) return;
    if (this.#trees.get(digest) !== tree) return;
    this.#trees.delete(digest);
    await tree.extracted.then(
      (e) => e.dispose(),
      () => undefined,
    );
  }
}

/** `promise`, or a rejection as soon as `signal` aborts (the promise itself runs on). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: Error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
