import { afterEach, describe, expect, it } from 'vitest';
import type { Condition, ObjectRef } from '../src/api/meta.ts';
import { KubeRest } from '../src/apply/kube-rest.ts';
import type { LeaderElectionSettings } from '../src/runtime/leader-gate.ts';
import { eventually } from './harness/eventually.ts';
import { kubeTestContext } from './harness/kube.ts';
import { startTestEngine, type TestEngine } from './harness/test-engine.ts';

const kube = kubeTestContext();

/** Slack for a loaded machine on top of what the election waits for. */
const slackMs = 15_000;

const provider = `apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata:
  name: hook
  namespace: default
spec:
  type: generic
  address: http://127.0.0.1:9/hook
`;
const providerRef: ObjectRef = { kind: 'Provider', namespace: 'default', name: 'hook' };

const engines: TestEngine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.stop()));
});

/** An engine (own data dir and store, holding one Provider) that runs for the test's Lease; counts its reconciles. */
async function electingEngine(identity: string, election: Partial<LeaderElectionSettings>) {
  const reconciled: string[] = [];
  const lost: string[] = [];
  const handle = await startTestEngine({
    leaderElection: {
      kubeConfig: kube.kubeConfig,
      lease: { namespace: kube.namespace(), name: 'kedge-leader' },
      identity,
      onLost: () => void lost.push(identity),
      ...election,
    },
    onReconcileFinished: (f) => void reconciled.push(`${f.ref.kind}/${f.ref.name}`),
  });
  engines.push(handle);
  await handle.apply(provider);
  return { handle, reconciled, lost, identity };
}

async function readyz(handle: TestEngine): Promise<{ status: number; body: string }> {
  const res = await fetch(`${handle.engine.metricsUrl}/readyz`);
  return { status: res.status, body: await res.text() };
}

function readyOf(handle: TestEngine): Promise<Condition | undefined> {
  return handle
    .get(providerRef)
    .then((o) =>
      (o?.status as { conditions?: Condition[] } | undefined)?.conditions?.find((c) => c.type === 'Ready'),
    );
}

describe('engine with leader election', () => {
  it('reconciles only on the leader, and a graceful stop hands over at once', async () => {
    // A lease far longer than the waits below: only the release on stop explains the handover.
    const timings = { leaseDurationMs: 120_000, renewDeadlineMs: 60_000, retryPeriodMs: 500 };
    const a = await electingEngine('engine-a', timings);
    const b = await electingEngine('engine-b', timings);
    const leader = await eventually(
      () => [a, b].find((e) => e.handle.engine.leaderGate?.leadership() === 'leader'),
      {
        what: 'one engine to lead',
        timeoutMs: slackMs,
      },
    );
    const follower = leader === a ? b : a;
    await leader.handle.waitForReady(providerRef);
    await eventually(
      async () => (await readyz(follower.handle)).body === `ok: follower of ${leader.identity}`,
      { what: 'the follower to see the leader', timeoutMs: slackMs },
    );
    expect(await readyz(leader.handle)).toEqual({ status: 200, body: 'ok: leader' });
    expect(await readyz(follower.handle)).toEqual({
      status: 200,
      body: `ok: follower of ${leader.identity}`,
    });
    expect(await leader.handle.engine.metrics.registry.metrics()).toContain(
      'leader_election_master_status{name="kedge-leader"} 1',
    );
    expect(await follower.handle.engine.metrics.registry.metrics()).toContain(
      'leader_election_master_status{name="kedge-leader"} 0',
    );
    expect(leader.reconciled).toContain('Provider/hook');
    expect(follower.reconciled).toEqual([]);
    expect(await readyOf(follower.handle)).toBeUndefined();

    await leader.handle.engine.stop();
    engines.splice(engines.indexOf(leader.handle), 1);
    await follower.handle.waitForReady(
      providerRef,
      (ready) => ready.status === 'True',
      timings.retryPeriodMs * 2.2 + slackMs,
    );
    expect(follower.handle.engine.leaderGate?.leadership()).toBe('leader');
    expect(leader.lost).toEqual([]);
  });

  it('stops reconciling at once when the lease is lost, and says so on /readyz', async () => {
    const timings = { leaseDurationMs: 120_000, renewDeadlineMs: 60_000, retryPeriodMs: 500 };
    const only = await electingEngine('engine-robbed', timings);
    await only.handle.waitForReady(providerRef);
    // Another holder takes the lease.
    const rest = new KubeRest(kube.kubeConfig);
    try {
      const path = `/apis/coordination.k8s.io/v1/namespaces/${kube.namespace()}/leases/kedge-leader`;
      const lease = await rest.request<{ spec: Record<string, unknown> }>('GET', path);
      await rest.request('PUT', path, {
        body: { ...lease, spec: { ...lease.spec, holderIdentity: 'intruder' } },
      });
    } finally {
      rest.close();
    }
    await eventually(() => only.lost.length === 1, {
      what: 'onLost',
      timeoutMs: timings.retryPeriodMs + slackMs,
    });
    expect(only.handle.engine.leaderGate?.leadership()).toBe('lost');
    expect(await readyz(only.handle)).toEqual({ status: 503, body: 'leader election lost' });
    expect(await only.handle.engine.metrics.registry.metrics()).toContain(
      'leader_election_master_status{name="kedge-leader"} 0',
    );
    // Its controllers are stopped: a request for a reconcile finds no taker, a new object stays unreconciled.
    const before = only.reconciled.length;
    expect(only.handle.engine.manager.enqueue(providerRef)).toBe(true);
    await only.handle.apply(provider.replace('name: hook', 'name: after-loss'));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(only.reconciled.length).toBe(before);
    expect((await only.handle.get({ ...providerRef, name: 'after-loss' }))?.status).toBeUndefined();
  });
});
