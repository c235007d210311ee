import { describe, expect, it } from 'vitest';
import type { HelmReleaseSpec, HelmReleaseStatus, Snapshot } from '../../api/helmrelease.ts';
import type { ReleaseRecord } from '../../helm/release-record.ts';
import { configDigest } from '../../helm/release-values.ts';
import { previousSnapshot, releaseState, remediationOf, type DesiredRelease } from './release-state.ts';

const record = (over: Partial<ReleaseRecord> = {}): ReleaseRecord => ({
  name: 'app',
  namespace: 'apps',
  version: 2,
  status: 'deployed',
  description: '',
  chartName: 'greeter',
  chartVersion: '1.0.0',
  config: { greeting: 'hi' },
  manifest: '',
  firstDeployed: '',
  lastDeployed: '',
  testHooks: {},
  digest: 'sha256:aa',
  ...over,
});
const snapshot = (over: Partial<Snapshot> = {}): Snapshot => ({
  digest: 'sha256:aa',
  name: 'app',
  namespace: 'apps',
  version: 2,
  status: 'deployed',
  chartName: 'greeter',
  chartVersion: '1.0.0',
  configDigest: configDigest({ greeting: 'hi' }),
  firstDeployed: '',
  lastDeployed: '',
  ...over,
});
const desired: DesiredRelease = {
  chartName: 'greeter',
  chartVersion: '1.0.0',
  values: { greeting: 'hi' },
  newGeneration: false,
};
const spec: HelmReleaseSpec = { interval: '1m', chartRef: { kind: 'HelmChart', name: 'c' } };
const managed: HelmReleaseStatus = { history: [snapshot()] };

describe('releaseState (helm-controller DetermineReleaseState)', () => {
  it.each<
    [string, ReleaseRecord | undefined, HelmReleaseStatus, Partial<DesiredRelease>, HelmReleaseSpec, string]
  >([
    ['no release in storage', undefined, {}, {}, spec, 'Absent'],
    ['a pending release', record({ status: 'pending-upgrade' }), managed, {}, spec, 'Locked'],
    ['a release installed by hand (no history)', record(), {}, {}, spec, 'Unmanaged'],
    [
      'a release changed behind our back',
      record({ version: 3, digest: 'sha256:bb' }),
      managed,
      {},
      spec,
      'Unmanaged',
    ],
    ['an uninstalled release without history', record({ status: 'uninstalled' }), {}, {}, spec, 'Absent'],
    ['a failed release', record({ status: 'failed' }), managed, {}, spec, 'Failed'],
    ['a new chart version', record(), managed, { chartVersion: '1.1.0' }, spec, 'OutOfSync'],
    ['new values', record(), managed, { values: { greeting: 'yo' } }, spec, 'OutOfSync'],
    [
      'same values in another key order',
      record({ config: { a: 1, b: 2 } }),
      managed,
      { values: { b: 2, a: 1 } },
      spec,
      'InSync',
    ],
    [
      'new post-renderers in a new generation',
      record(),
      managed,
      { newGeneration: true, postRenderersDigest: 'sha256:x' },
      spec,
      'OutOfSync',
    ],
    ['tests enabled, not run', record(), managed, {}, { ...spec, test: { enable: true } }, 'Untested'],
    [
      'tests failed with an active remediation',
      record(),
      {
        history: [snapshot({ testHooks: { t: { phase: 'Failed' } } })],
        lastAttemptedReleaseAction: 'upgrade',
      },
      {},
      { ...spec, test: { enable: true } },
      'Failed',
    ],
    [
      'tests failed but ignored',
      record(),
      {
        history: [snapshot({ testHooks: { t: { phase: 'Failed' } } })],
        lastAttemptedReleaseAction: 'upgrade',
      },
      {},
      { ...spec, test: { enable: true, ignoreFailures: true } },
      'InSync',
    ],
    ['in sync', record(), managed, {}, spec, 'InSync'],
  ])('%s → %s', (_name, latest, status, want, s, expected) => {
    expect(releaseState(latest, s, status, { ...desired, ...want }).status).toBe(expected);
  });
});

describe('remediation (Flux defaults)', () => {
  it.each<
    [
      string,
      HelmReleaseSpec,
      HelmReleaseStatus,
      'install' | 'upgrade',
      { exhausted: boolean; remediateLastFailure: boolean; strategy: string },
    ]
  >([
    [
      'install, no retries, one failure',
      spec,
      { installFailures: 1 },
      'install',
      { exhausted: true, remediateLastFailure: false, strategy: 'uninstall' },
    ],
    [
      'upgrade, 1 retry, one failure',
      { ...spec, upgrade: { remediation: { retries: 1 } } },
      { upgradeFailures: 1 },
      'upgrade',
      { exhausted: false, remediateLastFailure: true, strategy: 'rollback' },
    ],
    [
      'upgrade, 1 retry, two failures',
      { ...spec, upgrade: { remediation: { retries: 1 } } },
      { upgradeFailures: 2 },
      'upgrade',
      { exhausted: true, remediateLastFailure: true, strategy: 'rollback' },
    ],
    [
      'upgrade, unlimited retries',
      { ...spec, upgrade: { remediation: { retries: -1, strategy: 'uninstall' } } },
      { upgradeFailures: 9 },
      'upgrade',
      { exhausted: false, remediateLastFailure: false, strategy: 'uninstall' },
    ],
  ])('%s', (_name, s, status, action, expected) => {
    expect(remediationOf(s, status, action)).toMatchObject(expected);
  });

  it('rolls back to the newest earlier successful release whose tests did not fail', () => {
    const history = [
      snapshot({ version: 4, status: 'failed' }),
      snapshot({ version: 3, status: 'superseded', testHooks: { t: { phase: 'Failed' } } }),
      snapshot({ version: 2, status: 'superseded' }),
    ];
    expect(previousSnapshot(history, false)?.version).toBe(2);
    expect(previousSnapshot(history, true)?.version).toBe(3);
  });
});
