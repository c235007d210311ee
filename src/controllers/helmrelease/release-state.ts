import type { HelmReleaseSpec, HelmReleaseStatus, Snapshot } from '../../api/helmrelease.ts';
import type { ReleaseRecord } from '../../helm/release-record.ts';
import { configDigest, type Values } from '../../helm/release-values.ts';

/** Where a release stands against the HelmRelease, after helm-controller's `DetermineReleaseState`. */
export type ReleaseStatus =
  'Absent' | 'Locked' | 'Unmanaged' | 'OutOfSync' | 'Untested' | 'Failed' | 'InSync';

export interface ReleaseState {
  status: ReleaseStatus;
  reason: string;
}

/** What the release should be: the chart loaded from the artifact and the composed values. */
export interface DesiredRelease {
  chartName: string;
  chartVersion: string;
  values: Values;
  /** `metadata.generation !== status.observedGeneration`: post-renderers or common metadata may have changed. */
  newGeneration: boolean;
  postRenderersDigest?: string;
  commonMetadataDigest?: string;
}

const PENDING = new Set(['pending-install', 'pending-upgrade', 'pending-rollback', 'uninstalling']);

/**
 * The state of `latest` (the newest release in storage) against the status history and the desired release.
 * A release Kedge did not observe (installed by hand, or changed behind its back) is Unmanaged: an upgrade
 * brings it under management, which is how a hand-installed release is adopted.
 */
export function releaseState(
  latest: ReleaseRecord | undefined,
  spec: HelmReleaseSpec,
  status: HelmReleaseStatus,
  desired: DesiredRelease,
): ReleaseState {
  if (!latest) return { status: 'Absent', reason: 'no release in storage for object' };
  if (PENDING.has(latest.status))
    return { status: 'Locked', reason: `release with status '${latest.status}'` };
  const cur = status.history?.[0];
  if (!cur) {
    if (latest.status === 'uninstalled')
      return { status: 'Absent', reason: 'found uninstalled release in storage' };
    return { status: 'Unmanaged', reason: 'found existing release in storage' };
  }
  if (cur.name !== latest.name || cur.version !== latest.version || cur.digest !== latest.digest)
    return {
      status: 'Unmanaged',
      reason: `release ${latest.name}.v${latest.version} was not made by this object`,
    };
  switch (latest.status) {
    case 'failed':
      return { status: 'Failed', reason: 'release is in a failed state' };
    case 'uninstalled':
      return { status: 'Absent', reason: 'found uninstalled release in storage' };
    case 'deployed':
      break;
    default:
      return { status: 'Unmanaged', reason: `release has status '${latest.status}'` };
  }
  if (latest.chartName !== desired.chartName || latest.chartVersion !== desired.chartVersion)
    return { status: 'OutOfSync', reason: 'release chart changed' };
  if (configDigest(latest.config) !== configDigest(desired.values))
    return { status: 'OutOfSync', reason: 'release values changed' };
  if (desired.newGeneration) {
    if (desired.postRenderersDigest !== status.observedPostRenderersDigest)
      return { status: 'OutOfSync', reason: 'postrenderers digest has changed' };
    if (desired.commonMetadataDigest !== status.observedCommonMetadataDigest)
      return { status: 'OutOfSync', reason: 'common metadata digest has changed' };
  }
  if (spec.test?.enable) {
    if (!cur.testHooks) return { status: 'Untested', reason: 'release has not been tested' };
    const remediation = activeRemediation(spec, status);
    const failedTest = Object.values(cur.testHooks).some((h) => h.phase === 'Failed');
    if (remediation && failedTest && !remediation.ignoreTestFailures(spec))
      return { status: 'Failed', reason: 'release has test in failed phase' };
  }
  return { status: 'InSync', reason: 'release in-sync with desired state' };
}

/** The remediation of the last release action (install or upgrade), as Flux's `GetActiveRemediation`. */
export interface Remediation {
  action: 'install' | 'upgrade';
  retries: number;
  failures: number;
  strategy: 'rollback' | 'uninstall';
  remediateLastFailure: boolean;
  ignoreTestFailures(spec: HelmReleaseSpec): boolean;
  /** Retries >= 0 and more failures than retries. */
  exhausted: boolean;
}

export function remediationOf(
  spec: HelmReleaseSpec,
  status: HelmReleaseStatus,
  action: 'install' | 'upgrade',
): Remediation {
  const own = action === 'install' ? spec.install?.remediation : spec.upgrade?.remediation;
  const retries = own?.retries ?? 0;
  const failures = (action === 'install' ? status.installFailures : status.upgradeFailures) ?? 0;
  const upgradeStrategy = spec.upgrade?.remediation?.strategy ?? 'rollback';
  return {
    action,
    retries,
    failures,
    strategy: action === 'install' ? 'uninstall' : upgradeStrategy,
    // Install: only when asked; upgrade: by default when retries are allowed (Flux's defaults).
    remediateLastFailure: own?.remediateLastFailure ?? (action === 'upgrade' && retries > 0),
    ignoreTestFailures: (s) => own?.ignoreTestFailures ?? s.test?.ignoreFailures ?? false,
    exhausted: retries >= 0 && failures > retries,
  };
}

export function activeRemediation(spec: HelmReleaseSpec, status: HelmReleaseStatus): Remediation | undefined {
  const action = status.lastAttemptedReleaseAction;
  return action ? remediationOf(spec, status, action) : undefined;
}

const SUCCESSFUL = new Set(['deployed', 'superseded']);

/** The release to roll back to: the newest earlier snapshot that was deployed (and whose tests passed, unless ignored). */
export function previousSnapshot(
  history: readonly Snapshot[],
  ignoreTestFailures: boolean,
): Snapshot | undefined {
  return history
    .slice(1)
    .find(
      (s) =>
        SUCCESSFUL.has(s.status) &&
        (ignoreTestFailures || !Object.values(s.testHooks ?? {}).some((h) => h.phase === 'Failed')),
    );
}

/** History up to the previous successful release (kept to roll back to); older snapshots are dropped. */
export function truncateHistory(history: readonly Snapshot[], ignoreTestFailures: boolean): Snapshot[] {
  const previous = previousSnapshot(history, ignoreTestFailures);
  if (!previous) return [...history];
  return history.slice(0, history.indexOf(previous) + 1);
}

/** `snapshot` put first in the history (replacing an entry of the same version). */
export function recordSnapshot(history: readonly Snapshot[] | undefined, snapshot: Snapshot): Snapshot[] {
  const rest = (history ?? []).filter((s) => !(s.name === snapshot.name && s.version === snapshot.version));
  return [snapshot, ...rest].sort((a, b) => b.version - a.version);
}
