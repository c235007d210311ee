import { KubeConfig } from '@kubernetes/client-node';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeRest } from '../src/apply/kube-rest.ts';
import {
  LeaderElector,
  type LeaderElectorOptions,
  type StoppedLeadingReason,
} from '../src/runtime/leader-election.ts';
import { LoadHeadroom, measureStartMs } from './harness/budget.ts';
import { eventually } from './harness/eventually.ts';
import { kubeTestContext } from './harness/kube.ts';
import { startTcpRelay } from './harness/tcp-relay.ts';
import { spawnTracked } from './harness/tracked-process.ts';

const kube = kubeTestContext();

/** Short timings so the tests wait seconds, not the defaults' 15 s; the same rules as the defaults. */
const timings = { leaseDurationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 500 };
/** Slack for a loaded machine on top of what the election itself waits for. */
const slackMs = 10_000;
/** A retry's longest wait (retry period × (1 + jitter factor 1.2)). */
const longestRetryMs = timings.retryPeriodMs * 2.2;

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  renewTime?: string;
  leaseTransitions?: number;
}
interface Lease {
  metadata: { name: string; namespace: string; resourceVersion: string };
  spec: LeaseSpec;
}

const rests: KubeRest[] = [];
const electors: LeaderElector[] = [];
afterEach(async () => {
  await Promise.all(electors.splice(0).map((e) => e.stop()));
  for (const rest of rests.splice(0)) rest.close();
});

function restFor(kubeConfig: KubeConfig = kube.kubeConfig): KubeRest {
  const rest = new KubeRest(kubeConfig);
  rests.push(rest);
  return rest;
}

function leasePath(name: string): string {
  return `/apis/coordination.k8s.io/v1/namespaces/${kube.namespace()}/leases/${name}`;
}

function readLease(name: string): Promise<Lease> {
  return restFor().request<Lease>('GET', leasePath(name));
}

/** A candidate in this process that records what happened to it. */
function candidate(identity: string, lease: string, options: Partial<LeaderElectorOptions> = {}) {
  const log: string[] = [];
  const elector = new LeaderElector({
    rest: restFor(),
    lease: { namespace: kube.namespace(), name: lease },
    identity,
    ...timings,
    onStartedLeading: () => void log.push('started'),
    onStoppedLeading: (reason: StoppedLeadingReason) => void log.push(`stopped-${reason}`),
    ...options,
  });
  electors.push(elector);
  elector.start();
  return { elector, log };
}

describe('leader election on a Lease', () => {
  it('lets exactly one of two candidates lead, and the leader keeps renewing', async () => {
    const a = candidate('candidate-a', 'one-leader');
    const b = candidate('candidate-b', 'one-leader');
    const leader = await eventually(() => [a, b].find((c) => c.elector.isLeader), {
      what: 'one candidate to lead',
      timeoutMs: longestRetryMs + slackMs,
    });
    const follower = leader === a ? b : a;
    // Watch several renewals go by: the follower never leads meanwhile.
    const renewals = new Set<string>();
    await eventually(
      async () => {
        const lease = await readLease('one-leader');
        expect(lease.spec.holderIdentity).toBe(leader.elector.identity);
        renewals.add(lease.spec.renewTime ?? '');
        return renewals.size >= 4;
      },
      { what: 'four renewals by the leader', timeoutMs: 4 * timings.retryPeriodMs + slackMs },
    );
    expect(leader.log).toEqual(['started']);
    expect(follower.log).toEqual([]);
    expect(follower.elector.isLeader).toBe(false);
    expect(follower.elector.leader).toBe(leader.elector.identity);
    const lease = await readLease('one-leader');
    expect(lease.spec.leaseDurationSeconds).toBe(4);
    expect(lease.spec.leaseTransitions).toBe(0);
  });

  it('hands over to a follower when the leader process is killed with SIGKILL', async () => {
    const startMs = await measureStartMs([...tsxArgs(), '-e', '']);
    const child = spawnTracked(process.execPath, [...tsxArgs(), electorScript], {
      env: {
        ...process.env,
        KUBECONFIG: kube.kubeconfigPath,
        LEASE_NAMESPACE: kube.namespace(),
        LEASE_NAME: 'crash',
        IDENTITY: 'doomed-leader',
        LEASE_DURATION_MS: String(timings.leaseDurationMs),
        RENEW_DEADLINE_MS: String(timings.renewDeadlineMs),
        RETRY_PERIOD_MS: String(timings.retryPeriodMs),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    await eventually(() => output.includes('"leading"'), {
      what: 'the child elector to lead',
      timeoutMs: startMs * LoadHeadroom + longestRetryMs + slackMs,
    });
    const follower = candidate('survivor', 'crash');
    await eventually(() => follower.elector.leader === 'doomed-leader', {
      what: 'the follower to see the leader',
      timeoutMs: slackMs,
    });
    process.kill(child.pid!, 'SIGKILL');
    await eventually(() => follower.elector.isLeader, {
      what: 'the follower to take over after the leader died',
      timeoutMs: timings.leaseDurationMs + longestRetryMs + slackMs,
    });
    expect(output).not.toContain('stopped-');
    const lease = await readLease('crash');
    expect(lease.spec.holderIdentity).toBe('survivor');
    expect(lease.spec.leaseTransitions).toBe(1);
  }, 180_000);

  it('releases the lease on a graceful stop, after the leader stopped leading, so a follower takes over at once', async () => {
    // A lease far longer than the wait below: only a release can explain the takeover.
    const long = { leaseDurationMs: 120_000, renewDeadlineMs: 60_000, retryPeriodMs: 500 };
    const holderDuringStop: string[] = [];
    const leader = candidate('graceful-leader', 'graceful', {
      ...long,
      onStoppedLeading: async () => {
        holderDuringStop.push((await readLease('graceful')).spec.holderIdentity ?? '');
      },
    });
    await eventually(() => leader.elector.isLeader, {
      what: 'the first candidate to lead',
      timeoutMs: slackMs,
    });
    const follower = candidate('patient-follower', 'graceful', long);
    await eventually(() => follower.elector.leader === 'graceful-leader', {
      what: 'the follower to see the leader',
      timeoutMs: slackMs,
    });
    await leader.elector.stop();
    expect(holderDuringStop).toEqual(['graceful-leader']);
    expect(await leader.elector.done).toBe('stopped');
    const released = await readLease('graceful');
    expect([undefined, 'patient-follower']).toContain(released.spec.holderIdentity);
    await eventually(() => follower.elector.isLeader, {
      what: 'the follower to take over the released lease',
      timeoutMs: longestRetryMs + slackMs,
    });
    expect((await readLease('graceful')).spec.holderIdentity).toBe('patient-follower');
  });

  it('stops leading at once when another holder takes the lease, without waiting for the renew deadline', async () => {
    const long = { leaseDurationMs: 120_000, renewDeadlineMs: 60_000, retryPeriodMs: 500 };
    const leader = candidate('robbed-leader', 'stolen', long);
    await eventually(() => leader.elector.isLeader, { what: 'the candidate to lead', timeoutMs: slackMs });
    const lease = await readLease('stolen');
    await restFor().request('PUT', leasePath('stolen'), {
      body: {
        ...lease,
        spec: {
          ...lease.spec,
          holderIdentity: 'intruder',
          renewTime: new Date().toISOString().replace('Z', '000Z'),
        },
      },
    });
    const outcome = await Promise.race([
      leader.elector.done,
      new Promise((resolve) => setTimeout(() => resolve('still leading'), long.renewDeadlineMs / 2)),
    ]);
    expect(outcome).toBe('lost');
    expect(leader.log).toEqual(['started', 'stopped-lost']);
    expect(leader.elector.isLeader).toBe(false);
    // It does not run again: the intruder keeps the lease.
    expect((await readLease('stolen')).spec.holderIdentity).toBe('intruder');
  });

  it('stops leading when it cannot reach the API server within the renew deadline', async () => {
    const server = new URL(kube.kubeConfig.getCurrentCluster()!.server);
    const relay = await startTcpRelay({ host: server.hostname, port: Number(server.port) });
    try {
      const relayed = new KubeConfig();
      relayed.loadFromOptions({
        clusters: kube.kubeConfig.clusters.map((c) => ({
          ...c,
          server: `${server.protocol}//${server.hostname}:${relay.port}`,
        })),
        users: kube.kubeConfig.users,
        contexts: kube.kubeConfig.contexts,
        currentContext: kube.kubeConfig.currentContext,
      });
      const leader = candidate('cut-off-leader', 'cut', { rest: restFor(relayed) });
      await eventually(() => leader.elector.isLeader, { what: 'the candidate to lead', timeoutMs: slackMs });
      relay.cut();
      const lost = await Promise.race([
        leader.elector.done,
        new Promise((resolve) =>
          setTimeout(() => resolve('still leading'), timings.renewDeadlineMs + slackMs),
        ),
      ]);
      expect(lost).toBe('lost');
      expect(leader.log).toEqual(['started', 'stopped-lost']);
    } finally {
      await relay.close();
    }
  });

  it('refuses timings that cannot work', () => {
    expect(
      () =>
        new LeaderElector({
          rest: restFor(),
          leaseDurationMs: 5_000,
          renewDeadlineMs: 5_000,
          onStartedLeading: () => {},
          onStoppedLeading: () => {},
        }),
    ).toThrow(/lease duration \(5000 ms\) must be longer than the renew deadline \(5000 ms\)/);
  });
});

const electorScript = resolve(import.meta.dirname, 'fixtures/leader-election/elector.ts');

function tsxArgs(): string[] {
  return ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href];
}
