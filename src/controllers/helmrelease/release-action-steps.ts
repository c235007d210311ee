import type { HelmReleaseSpec } from '../../api/helmrelease.ts';
import { HelmConditions, HelmReasons } from '../../api/helmrelease.ts';
import type { KubeTarget } from '../../apply/kube-client.ts';
import type { KubeRest } from '../../apply/kube-rest.ts';
import { correctReleaseDrift, detectReleaseDrift } from '../../helm/release-drift.ts';
import {
  installRelease,
  rollbackRelease,
  testRelease,
  uninstallRelease,
  upgradeRelease,
  type ReleaseInput,
  type ReleaseTarget,
} from '../../helm/release-actions.ts';
import {
  fullReleaseName,
  listReleases,
  snapshotOf,
  versionedChartName,
  type ReleaseRecord,
} from '../../helm/release-record.ts';
import { markReleaseFailed } from '../../helm/release-unlock.ts';
import { releaseInventory } from '../../helm/release-inventory.ts';
import { ReconcileError, StallingError, errorMessage } from '../../runtime/errors.ts';
import type { HelmReleaseRun } from '../helmrelease.ts';
import {
  activeRemediation,
  previousSnapshot,
  recordSnapshot,
  truncateHistory,
  type DesiredRelease,
  type ReleaseState,
} from './release-state.ts';

/** What every release action of one reconcile works with. */
export interface ActionContext {
  run: HelmReleaseRun;
  spec: HelmReleaseSpec;
  release: ReleaseTarget;
  rest: KubeRest;
  target: KubeTarget;
  input: ReleaseInput;
  desired: DesiredRelease;
  record(type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}

/** One step of the atomic release. `type` is what may run once per reconcile. */
export interface NextAction {
  type: 'release' | 'test' | 'remediate' | 'unlock';
  name: string;
  timeout?: string;
  run(): Promise<void>;
}

/**
 * helm-controller's action reconcilers over the helm binary: which action a release state calls for, and each
 * action with the conditions, history, failure counters and events it leaves behind (Flux's messages).
 */
export class ReleaseActions {
  constructor(private readonly ctx: ActionContext) {}

  private get status() {
    return this.ctx.run.status;
  }
  private get conditions() {
    return this.ctx.run.conditions;
  }

  /** The action for `state` (none when in sync); throws a StallingError when retries are exhausted. */
  forState(state: ReleaseState, latest: ReleaseRecord | undefined, force: boolean): NextAction | undefined {
    const { spec } = this.ctx;
    switch (state.status) {
      case 'InSync':
        return force ? this.upgrade() : undefined;
      case 'Locked':
        return this.unlock(latest!);
      case 'Absent': {
        const installFailures = this.status.installFailures ?? 0;
        const retries = spec.install?.remediation?.retries ?? 0;
        if (retries >= 0 && installFailures > retries && !force)
          throw this.exhausted('install', installFailures);
        return this.install();
      }
      case 'Unmanaged':
        return this.upgrade();
      case 'OutOfSync': {
        const failures = this.status.upgradeFailures ?? 0;
        const retries = spec.upgrade?.remediation?.retries ?? 0;
        if (retries >= 0 && failures > retries && !force) throw this.exhausted('upgrade', failures);
        return this.upgrade();
      }
      case 'Untested':
        this.replaceRemediated();
        return this.test();
      case 'Failed':
        return this.remediate(force);
    }
  }

  private remediate(force: boolean): NextAction {
    const remediation = activeRemediation(this.ctx.spec, this.status);
    if (!remediation || remediation.failures <= 0 || force) return this.upgrade();
    if (remediation.exhausted && !remediation.remediateLastFailure)
      throw this.exhausted(remediation.action, remediation.failures);
    const ignoreTests = remediation.ignoreTestFailures(this.ctx.spec);
    this.status.history = truncateHistory(this.status.history ?? [], ignoreTests);
    if (remediation.strategy === 'uninstall') return this.uninstallRemediation();
    const previous = previousSnapshot(this.status.history, ignoreTests);
    if (!previous) {
      const error = new StallingError(
        HelmReasons.MissingRollbackTarget,
        'Failed to perform remediation: missing target release for rollback: no earlier successful release in the history; fix the chart or values, or use upgrade.remediation.strategy: uninstall',
      );
      throw error;
    }
    return this.rollback(previous.version, previous);
  }

  /** The release is in sync: turn a past failure or remediation into the success it now is. */
  markInSync(): void {
    this.replaceRemediated();
    const released = this.conditions.get(HelmConditions.Released);
    const cur = this.status.history?.[0];
    if (!cur || released?.status === 'True') return;
    if (released?.reason === HelmReasons.InstallFailed)
      this.conditions.mark(
        HelmConditions.Released,
        'True',
        HelmReasons.InstallSucceeded,
        installSuccess(cur),
      );
    else
      this.conditions.mark(
        HelmConditions.Released,
        'True',
        HelmReasons.UpgradeSucceeded,
        upgradeSuccess(cur),
      );
  }

  /**
   * `driftDetection` enabled or warn: compare the release's objects with its manifest; report drift (Drifted,
   * a warning event) and, when enabled, correct it by server-side apply of the manifest.
   */
  async checkDrift(latest: ReleaseRecord): Promise<void> {
    const mode = this.ctx.spec.driftDetection?.mode ?? 'disabled';
    if (mode === 'disabled') {
      this.conditions.delete(HelmConditions.Drifted);
      return;
    }
    const drifts = await detectReleaseDrift(this.ctx.target, latest, this.ctx.spec.driftDetection?.ignore);
    if (drifts.length === 0) {
      this.conditions.mark(
        HelmConditions.Drifted,
        'False',
        HelmReasons.NoDriftDetected,
        'No drift detected against the cluster state',
      );
      return;
    }
    const summary = drifts
      .map((d) => (d.deleted ? `${d.subject} removed` : `${d.subject} changed (${d.fields.join(', ')})`))
      .join('\n');
    const message = `Cluster state of release ${fullReleaseName(latest)} has drifted from the desired state:\n${summary}`;
    this.conditions.mark(HelmConditions.Drifted, 'True', HelmReasons.DriftDetected, message);
    await this.ctx.record('Warning', HelmReasons.DriftDetected, message);
    if (mode !== 'enabled') return;
    await correctReleaseDrift(this.ctx.target, drifts);
    this.conditions.mark(
      HelmConditions.Drifted,
      'False',
      HelmReasons.NoDriftDetected,
      `Cluster state of release ${fullReleaseName(latest)} has been corrected`,
    );
    await this.ctx.record(
      'Normal',
      'DriftCorrected',
      `Cluster state of release ${fullReleaseName(latest)} has been corrected:\n${summary}`,
    );
  }

  /** The next action already ran in this reconcile: retry later unless retries are exhausted. */
  stopBefore(): void {
    const remediation = activeRemediation(this.ctx.spec, this.status);
    if (remediation?.exhausted) return;
    throw this.trouble();
  }

  /** A remediation ran: retry later (an upgrade may still succeed), or stall when retries are exhausted. */
  stopAfterRemediation(): never {
    const remediation = activeRemediation(this.ctx.spec, this.status);
    if (
      !remediation ||
      !remediation.exhausted ||
      (remediation.action === 'upgrade' && remediation.strategy === 'uninstall')
    )
      throw this.trouble();
    throw this.exhausted(remediation.action, remediation.failures);
  }

  private install(): NextAction {
    return this.releaseAction('install', this.ctx.spec.install?.timeout, () =>
      installRelease(this.ctx.spec, this.ctx.release, this.ctx.input),
    );
  }

  private upgrade(): NextAction {
    return this.releaseAction('upgrade', this.ctx.spec.upgrade?.timeout, () =>
      upgradeRelease(this.ctx.spec, this.ctx.release, this.ctx.input),
    );
  }

  /** Install or upgrade: a failure that left a release in storage counts against the retries; one that did not is an error. */
  private releaseAction(
    name: 'install' | 'upgrade',
    timeout: string | undefined,
    helm: () => Promise<void>,
  ): NextAction {
    return {
      type: 'release',
      name,
      timeout,
      run: async () => {
        const { release, desired } = this.ctx;
        this.status.lastAttemptedReleaseAction = name;
        this.conditions.delete(HelmConditions.TestSuccess);
        this.conditions.delete(HelmConditions.Remediated);
        const before = await this.latestVersion();
        const failed = name === 'install' ? HelmReasons.InstallFailed : HelmReasons.UpgradeFailed;
        try {
          await helm();
        } catch (error) {
          const message = `Helm ${name} failed for release ${release.namespace}/${release.name} with chart ${desired.chartName}@${desired.chartVersion}: ${errorMessage(error)}`;
          this.conditions.mark(HelmConditions.Released, 'False', failed, message);
          await this.ctx.record('Warning', failed, message);
          if (!(await this.observe(before))) throw new ReconcileError(failed, message);
          if (name === 'install') this.status.installFailures = (this.status.installFailures ?? 0) + 1;
          else this.status.upgradeFailures = (this.status.upgradeFailures ?? 0) + 1;
          this.status.failures = (this.status.failures ?? 0) + 1;
          return;
        }
        await this.observe(before);
        const cur = this.status.history![0]!;
        const reason = name === 'install' ? HelmReasons.InstallSucceeded : HelmReasons.UpgradeSucceeded;
        const message = name === 'install' ? installSuccess(cur) : upgradeSuccess(cur);
        this.conditions.mark(HelmConditions.Released, 'True', reason, message);
        this.status.observedPostRenderersDigest = desired.postRenderersDigest;
        this.status.observedCommonMetadataDigest = desired.commonMetadataDigest;
        if (!desired.postRenderersDigest) delete this.status.observedPostRenderersDigest;
        if (!desired.commonMetadataDigest) delete this.status.observedCommonMetadataDigest;
        await this.ctx.record('Normal', reason, message);
      },
    };
  }

  private test(): NextAction {
    return {
      type: 'test',
      name: 'test',
      timeout: this.ctx.spec.test?.timeout,
      run: async () => {
        let failure: unknown;
        await testRelease(this.ctx.spec, this.ctx.release).catch((error: unknown) => (failure = error));
        const latest = (
          await listReleases(this.ctx.rest, this.ctx.release.namespace, this.ctx.release.name)
        ).at(-1);
        if (!latest) throw new ReconcileError(HelmReasons.TestFailed, 'release disappeared while testing');
        const snapshot = { ...snapshotOf(latest), testHooks: latest.testHooks };
        this.status.history = recordSnapshot(this.status.history, snapshot);
        if (failure === undefined) {
          const hooks = Object.keys(latest.testHooks).length;
          const what =
            hooks === 0
              ? 'no test hooks'
              : `${hooks} test hook${hooks === 1 ? '' : 's'} completed successfully`;
          const message = `Helm test succeeded for release ${fullReleaseName(snapshot)} with chart ${versionedChartName(snapshot)}: ${what}`;
          this.conditions.mark(HelmConditions.TestSuccess, 'True', HelmReasons.TestSucceeded, message);
          await this.ctx.record('Normal', HelmReasons.TestSucceeded, message);
          return;
        }
        const message = `Helm test failed for release ${fullReleaseName(snapshot)} with chart ${versionedChartName(snapshot)}: ${errorMessage(failure)}`;
        this.conditions.mark(HelmConditions.TestSuccess, 'False', HelmReasons.TestFailed, message);
        await this.ctx.record('Warning', HelmReasons.TestFailed, message);
        const remediation = activeRemediation(this.ctx.spec, this.status);
        if (remediation && !remediation.ignoreTestFailures(this.ctx.spec)) {
          if (remediation.action === 'install')
            this.status.installFailures = (this.status.installFailures ?? 0) + 1;
          else this.status.upgradeFailures = (this.status.upgradeFailures ?? 0) + 1;
          this.status.failures = (this.status.failures ?? 0) + 1;
        }
      },
    };
  }

  private rollback(
    version: number,
    previous: { namespace: string; name: string; version: number; chartName: string; chartVersion: string },
  ): NextAction {
    return {
      type: 'remediate',
      name: 'rollback',
      timeout: this.ctx.spec.rollback?.timeout,
      run: async () => {
        const before = await this.latestVersion();
        const what = `${fullReleaseName(previous)} with chart ${versionedChartName(previous)}`;
        try {
          await rollbackRelease(this.ctx.spec, this.ctx.release, version);
        } catch (error) {
          await this.observe(before);
          const message = `Helm rollback to previous release ${what} failed: ${errorMessage(error)}`;
          this.conditions.mark(HelmConditions.Remediated, 'False', HelmReasons.RollbackFailed, message);
          await this.ctx.record('Warning', HelmReasons.RollbackFailed, message);
          throw new ReconcileError(HelmReasons.RollbackFailed, message);
        }
        await this.observe(before);
        const message = `Helm rollback to previous release ${what} succeeded`;
        this.conditions.mark(HelmConditions.Remediated, 'True', HelmReasons.RollbackSucceeded, message);
        await this.ctx.record('Normal', HelmReasons.RollbackSucceeded, message);
      },
    };
  }

  private uninstallRemediation(): NextAction {
    return {
      type: 'remediate',
      name: 'uninstall',
      timeout: this.ctx.spec.uninstall?.timeout,
      run: async () => {
        const cur = this.status.history?.[0];
        const what = cur
          ? `${fullReleaseName(cur)} with chart ${versionedChartName(cur)}`
          : this.ctx.release.name;
        try {
          await uninstallRelease(this.ctx.spec, this.ctx.release);
        } catch (error) {
          const message = `Helm uninstall remediation for release ${what} failed: ${errorMessage(error)}`;
          this.conditions.mark(HelmConditions.Remediated, 'False', HelmReasons.UninstallFailed, message);
          await this.ctx.record('Warning', HelmReasons.UninstallFailed, message);
          throw new ReconcileError(HelmReasons.UninstallFailed, message);
        }
        if (cur)
          this.status.history = recordSnapshot(this.status.history, {
            ...cur,
            status: 'uninstalled',
            deleted: new Date().toISOString(),
          });
        const message = `Helm uninstall remediation for release ${what} succeeded`;
        this.conditions.mark(HelmConditions.Remediated, 'True', HelmReasons.UninstallSucceeded, message);
        await this.ctx.record('Normal', HelmReasons.UninstallSucceeded, message);
      },
    };
  }

  /** A release left pending (an interrupted action) is marked failed in storage, as Flux's unlock does. */
  private unlock(latest: ReleaseRecord): NextAction {
    return {
      type: 'unlock',
      name: 'unlock',
      run: async () => {
        await markReleaseFailed(this.ctx.rest, latest, `Release ${latest.status} was unlocked by kedge`);
        await this.observe(latest.version - 1);
      },
    };
  }

  /** Remediated=True is turned into the upgrade success it now is (the release matches the desired state). */
  private replaceRemediated(): void {
    if (!this.conditions.isTrue(HelmConditions.Remediated)) return;
    this.conditions.delete(HelmConditions.Remediated);
    const cur = this.status.history?.[0];
    if (cur)
      this.conditions.mark(
        HelmConditions.Released,
        'True',
        HelmReasons.UpgradeSucceeded,
        upgradeSuccess(cur),
      );
  }

  private async latestVersion(): Promise<number> {
    return (
      (await listReleases(this.ctx.rest, this.ctx.release.namespace, this.ctx.release.name)).at(-1)
        ?.version ?? 0
    );
  }

  /** Record releases from version `since` on in the history; true when a newer one than `since` exists. */
  private async observe(since: number): Promise<boolean> {
    const records = await listReleases(this.ctx.rest, this.ctx.release.namespace, this.ctx.release.name);
    let history = this.status.history ?? [];
    for (const record of records.filter((r) => r.version >= since)) {
      const snapshot = snapshotOf(record);
      // A test run that found no test hooks leaves nothing in the release: keep the record that it ran.
      const kept = history.find((s) => s.version === record.version)?.testHooks;
      history = recordSnapshot(
        history,
        kept && !snapshot.testHooks ? { ...snapshot, testHooks: kept } : snapshot,
      );
    }
    this.status.history = history;
    const latest = records.at(-1);
    if (latest && latest.status !== 'uninstalled')
      this.status.inventory = { entries: releaseInventory(latest.manifest, this.ctx.release.namespace) };
    else delete this.status.inventory;
    return records.some((r) => r.version > since);
  }

  /** The condition that explains why the release is not ready, as an error to retry with. */
  private trouble(): ReconcileError {
    const c =
      [HelmConditions.Remediated].map((t) => this.conditions.get(t)).find((x) => x?.status === 'True') ??
      [HelmConditions.TestSuccess, HelmConditions.Released]
        .map((t) => this.conditions.get(t))
        .find((x) => x && x.status !== 'True');
    return new ReconcileError(
      c?.reason ?? HelmReasons.UpgradeFailed,
      c?.message ?? 'release action did not complete',
    );
  }

  private exhausted(action: 'install' | 'upgrade', failures: number): StallingError {
    const why = this.trouble();
    return new StallingError(
      why.reason,
      `${why.message}; failed to ${action} after ${failures} attempt(s), retries exhausted: fix the chart or values, or run 'kedge reconcile helmrelease NAME --reset'`,
    );
  }
}

function installSuccess(cur: {
  namespace: string;
  name: string;
  version: number;
  chartName: string;
  chartVersion: string;
}): string {
  return `Helm install succeeded for release ${fullReleaseName(cur)} with chart ${versionedChartName(cur)}`;
}

function upgradeSuccess(cur: {
  namespace: string;
  name: string;
  version: number;
  chartName: string;
  chartVersion: string;
}): string {
  return `Helm upgrade succeeded for release ${fullReleaseName(cur)} with chart ${versionedChartName(cur)}`;
}
