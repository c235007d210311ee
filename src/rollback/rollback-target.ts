import type { HistoryEntry } from '../api/history.ts';

/** How to pick the revision to roll back to. */
export interface RollbackChoice {
  /** A recorded revision: exact (`main@sha1:<hash>`), or its commit/digest hex or a prefix of it (7+ characters). */
  to?: string;
  /** Go back this many distinct revisions from the one applied now. Default 1. */
  steps?: number;
}

/** The rollback asked for cannot be done; the message says why and what would work. */
export class RollbackError extends Error {
  override name = 'RollbackError';
}

/**
 * The newest successful history entry to roll back to, given the revision applied now: by `to`, or `steps`
 * distinct earlier revisions back. Entries without an artifact (nothing to re-apply) are never chosen.
 */
export function chooseRollbackTarget(
  history: readonly HistoryEntry[],
  current: string | undefined,
  choice: RollbackChoice,
  what: string,
): HistoryEntry {
  const usable = history.filter((e) => e.result === 'Succeeded' && e.artifact !== undefined);
  const known = [...new Set(usable.map((e) => e.revision))];
  const listing =
    known.length > 0 ? `recorded revisions: ${known.join(', ')}` : 'no successful revision is recorded yet';
  if (choice.to !== undefined) {
    const found = usable.find((e) => matchesRevision(e.revision, choice.to!));
    if (!found)
      throw new RollbackError(
        `${what} has no successful history entry for revision '${choice.to}' (${listing})`,
      );
    return found;
  }
  const steps = choice.steps ?? 1;
  if (!Number.isInteger(steps) || steps < 1)
    throw new RollbackError(`--steps must be a whole number of at least 1, not ${steps}`);
  const earlier: HistoryEntry[] = [];
  for (const entry of usable) {
    if (entry.revision === current || earlier.some((e) => e.revision === entry.revision)) continue;
    earlier.push(entry);
  }
  const found = earlier[steps - 1];
  if (!found)
    throw new RollbackError(
      `${what} has ${earlier.length} earlier revision${earlier.length === 1 ? '' : 's'} in its history, cannot go back ${steps} (${listing})`,
    );
  return found;
}

/** `main@sha1:abc…` matches itself, `sha1:abc…`, `abc…` and a 7+ character prefix of the hex. */
export function matchesRevision(revision: string, wanted: string): boolean {
  if (revision === wanted || revision.endsWith(`@${wanted}`)) return true;
  const hex = /(?:sha1|sha256):([0-9a-f]+)$/.exec(revision)?.[1];
  const bare = wanted.replace(/^(?:sha1|sha256):/, '');
  return hex !== undefined && bare.length >= 7 && /^[0-9a-f]+$/.test(bare) && hex.startsWith(bare);
}
