import type { ObjectRef } from '../api/meta.ts';
import { ReleaseError, type PrepareReleaseInput, type Release, type ReleaseStore } from './release-store.ts';

/** What the App reconciler asks for: the release of its revision, within the rollout's progress deadline. */
export interface PreparationRequest extends Omit<PrepareReleaseInput, 'signal' | 'onSetupStart'> {
  /** The preparation must finish within this long of its first attempt, or its setup is stopped. */
  deadlineMs: number;
  /**
   * The App's desired state as far as retries go (generation and reconcile request): a preparation that failed
   * or ran out of time starts over when it changes; a running one is never restarted because of it.
   */
  token: string;
}

/** Where the release of an App stands; every phase but Ready means the App still runs its previous replicas. */
export type PreparationProgress =
  | { phase: 'Ready'; release: Release }
  | {
      phase: 'Running';
      revision: string;
      /** Extracting the artifact, or running `setup`. */
      step: 'extract' | 'setup';
      /** The setup's pid (its process group), while it runs. */
      pid?: number;
      /** Since the first attempt (the progress deadline counts from there). */
      elapsedMs: number;
      /** Until the deadline stops it. */
      remainingMs: number;
      attempt: number;
    }
  | {
      phase: 'Failed';
      revision: string;
      error: ReleaseError;
      attempt: number;
      /** When the next attempt may start; undefined when none will before the App changes (past the deadline). */
      retryInMs?: number;
    }
  | { phase: 'DeadlineExceeded'; revision: string; step: 'extract' | 'setup'; elapsedMs: number };

/** A failed attempt is retried after 2 s, doubling up to this, while the progress deadline allows. */
const MAX_RETRY_DELAY_MS = 300_000;

interface Preparation {
  ref: ObjectRef;
  key: string;
  revision: string;
  token: string;
  /** Start of the first attempt, in ms since the epoch. */
  since: number;
  deadlineMs: number;
  attempt: number;
  state: 'running' | 'ready' | 'failed' | 'deadline' | 'cancelled';
  step: 'extract' | 'setup';
  pid?: number;
  error?: ReleaseError;
  retryAt?: number;
  /** The deadline stopped it (as opposed to a cancel). */
  deadlineHit: boolean;
  abort: AbortController;
  settled: Promise<void>;
  timer?: NodeJS.Timeout;
}

const appKey = (ref: Pick<ObjectRef, 'namespace' | 'name'>) => `${ref.namespace}/${ref.name}`;

/**
 * Releases being prepared (extracted, set up) in the background, at most one per App, keyed by App and release
 * key. Guarantees: {@link ensure} never waits for a setup — it starts or observes one and returns at once; a
 * running setup is stopped (its whole process group) when its deadline passes, when the App asks for another
 * release, when it is cancelled, and on {@link cancelAll}; `onSettled` is called when an attempt ends on its
 * own (ready, failed, out of time), so the App is reconciled again through the normal queue.
 */
export class ReleasePreparations {
  private readonly preparations = new Map<string, Preparation>();
  private closed = false;

  constructor(
    private readonly releases: ReleaseStore,
    private readonly onSettled: (ref: ObjectRef) => void,
  ) {}

  /** The release for `request` if it is ready; else starts (or observes) its preparation and reports progress. */
  async ensure(ref: ObjectRef, request: PreparationRequest): Promise<PreparationProgress> {
    if (this.closed) throw new Error('the host runtime is shutting down');
    const release = await this.releases.locate(request);
    let prep = this.preparations.get(appKey(ref));
    if (prep && prep.key !== release.key) {
      await this.cancel(ref);
      prep = undefined;
    }
    if (this.releases.isReady(release)) {
      if (prep) this.forget(ref, prep);
      return { phase: 'Ready', release };
    }
    const now = Date.now();
    if (
      !prep ||
      prep.state === 'ready' ||
      ((prep.state === 'failed' || prep.state === 'deadline') && prep.token !== request.token)
    ) {
      prep = this.start(ref, release.key, request, now, 1);
    } else if (
      prep.state === 'failed' &&
      prep.retryAt !== undefined &&
      now >= prep.retryAt &&
      now < prep.since + request.deadlineMs
    ) {
      prep = this.start(ref, release.key, request, prep.since, prep.attempt + 1);
    } else if (prep.state === 'running') {
      prep.token = request.token;
      if (prep.deadlineMs !== request.deadlineMs) this.armDeadline(prep, request.deadlineMs);
    }
    return progressOf(prep, Date.now());
  }

  /** Stops the App's preparation, if any (its setup's process group is gone when this resolves). */
  async cancel(ref: ObjectRef): Promise<void> {
    const prep = this.preparations.get(appKey(ref));
    if (!prep) return;
    this.forget(ref, prep);
    if (prep.state === 'running') prep.abort.abort(new Error('release preparation cancelled'));
    await prep.settled;
  }

  /** Stops every preparation; later {@link ensure} calls fail. */
  async cancelAll(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.preparations.values()].map((prep) => this.cancel(prep.ref)));
  }

  private start(
    ref: ObjectRef,
    key: string,
    request: PreparationRequest,
    since: number,
    attempt: number,
  ): Preparation {
    const abort = new AbortController();
    const prep: Preparation = {
      ref,
      key,
      revision: request.revision,
      token: request.token,
      since,
      deadlineMs: request.deadlineMs,
      attempt,
      state: 'running',
      step: 'extract',
      deadlineHit: false,
      abort,
      settled: Promise.resolve(),
    };
    this.preparations.set(appKey(ref), prep);
    this.armDeadline(prep, request.deadlineMs);
    const { deadlineMs: _deadline, token: _token, ...input } = request;
    prep.settled = this.releases
      .prepare({
        ...input,
        signal: abort.signal,
        onSetupStart: (pid) => {
          prep.step = 'setup';
          prep.pid = pid;
        },
      })
      .then(
        () => {
          prep.state = 'ready';
        },
        (error: unknown) => {
          if (prep.deadlineHit) prep.state = 'deadline';
          else if (abort.signal.aborted) prep.state = 'cancelled';
          else {
            prep.state = 'failed';
            prep.error =
              error instanceof ReleaseError
                ? error
                : new ReleaseError(
                    'ArtifactFailed',
                    `preparing revision '${prep.revision}' failed: ${(error as Error).message}`,
                    { cause: error },
                  );
            prep.retryAt = Date.now() + Math.min(MAX_RETRY_DELAY_MS, 2_000 * 2 ** (prep.attempt - 1));
          }
        },
      )
      .finally(() => {
        clearTimeout(prep.timer);
        prep.pid = undefined;
        if (prep.state !== 'cancelled' && this.preparations.get(appKey(ref)) === prep) this.onSettled(ref);
      });
    return prep;
  }

  /** (Re)schedules the stop at `since + deadlineMs`. */
  private armDeadline(prep: Preparation, deadlineMs: number): void {
    prep.deadlineMs = deadlineMs;
    clearTimeout(prep.timer);
    prep.timer = setTimeout(
      () => {
        if (prep.state !== 'running') return;
        prep.deadlineHit = true;
        prep.abort.abort(new Error('progress deadline exceeded'));
      },
      Math.max(0, prep.since + deadlineMs - Date.now()),
    );
    prep.timer.unref();
  }

  private forget(ref: ObjectRef, prep: Preparation): void {
    clearTimeout(prep.timer);
    if (this.preparations.get(appKey(ref)) === prep) this.preparations.delete(appKey(ref));
  }
}

function progressOf(prep: Preparation, now: number): PreparationProgress {
  const elapsedMs = now - prep.since;
  switch (prep.state) {
    case 'failed': {
      const deadline = prep.since + prep.deadlineMs;
      const retryInMs =
        prep.retryAt !== undefined && prep.retryAt < deadline ? Math.max(0, prep.retryAt - now) : undefined;
      return {
        phase: 'Failed',
        revision: prep.revision,
        error: prep.error!,
        attempt: prep.attempt,
        retryInMs,
      };
    }
    case 'deadline':
      return { phase: 'DeadlineExceeded', revision: prep.revision, step: prep.step, elapsedMs };
    default:
      return {
        phase: 'Running',
        revision: prep.revision,
        step: prep.step,
        pid: prep.pid,
        elapsedMs,
        remainingMs: prep.since + prep.deadlineMs - now,
        attempt: prep.attempt,
      };
  }
}
