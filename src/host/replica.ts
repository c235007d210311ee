import { spawn, type ChildProcess } from 'node:child_process';
import type { AppProbe } from '../api/app.ts';
import { processStartTime, isSameProcessAlive, stopProcessGroup, type ProcessIdentity } from './process-identity.ts';
import { runProbe } from './probe.ts';
import { recordStartedProcess } from './tracked-process-hook.ts';
import { ReplicaMarkerEnv } from './replica-discovery.ts';
import type { ReplicaRecord } from './replica-registry.ts';
import { startReplicaLogWriter, type LogLimits } from './replica-logs.ts';
import { portEnv, type ReplicaTemplate } from './replica-template.ts';

/** Starting (no readiness yet), Running, CrashLoopBackOff (waiting to restart), Terminating, Terminated. */
export type ReplicaState = 'Starting' | 'Running' | 'CrashLoopBackOff' | 'Terminating' | 'Terminated';

/** Something a user should hear about (becomes a Kubernetes-style event on the App). */
export interface ReplicaEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** Restart delays after exits: `baseMs`, doubling per exit up to `maxMs`; reset after `resetAfterMs` of running. */
export interface RestartBackoff {
  baseMs: number;
  maxMs: number;
  resetAfterMs: number;
}

export interface ReplicaIdentityInput {
  namespace: string;
  app: string;
  index: number;
  ports: Record<string, number>;
  templateHash: string;
  revision: string;
  releaseKey: string;
  readinessProbe?: AppProbe;
  livenessProbe?: AppProbe;
  logFile: string;
  /** Size limits its log writer rotates by. */
  logLimits: LogLimits;
  /** The `KEDGE_REPLICA_ID` value that lets an engine find this replica in `/proc` (see replica-discovery.ts). */
  marker: string;
  backoff: RestartBackoff;
  /** Called on every change worth a look (readiness, exit, restart); with an event when a user should hear of it. */
  onChange: (event?: ReplicaEvent) => void;
}

/**
 * One supervised replica: a process in its own process group (its pid is the group id), stdout and stderr
 * piped to its log writer (a small process that rotates the log by size, see replica-log-writer.js),
 * restarted with exponential backoff when it exits, restarted when its liveness
 * probe fails `failureThreshold` times in a row, ready while its readiness probe passes (or, without one,
 * while it runs). A replica adopted from a previous engine is watched through `/proc` (pid and start time).
 */
export class Replica {
  state: ReplicaState = 'Starting';
  ready = false;
  restarts: number;
  lastExit?: string;
  identity?: ProcessIdentity;
  template?: ReplicaTemplate;
  startedAt: string;
  private child?: ChildProcess;
  private run = 0;
  private crashStreak = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private exited?: () => void;
  private killedForLiveness = false;

  private constructor(
    readonly input: ReplicaIdentityInput,
    restarts: number,
    startedAt: string,
  ) {
    this.restarts = restarts;
    this.startedAt = startedAt;
  }

  get index(): number {
    return this.input.index;
  }

  get templateHash(): string {
    return this.input.templateHash;
  }

  /** The port the expose proxy sends to: the first named port. */
  get primaryPort(): number | undefined {
    return Object.values(this.input.ports)[0];
  }

  /** Starts a new replica from `template`. */
  static start(input: ReplicaIdentityInput, template: ReplicaTemplate): Replica {
    const replica = new Replica(input, 0, new Date().toISOString());
    replica.template = template;
    replica.spawn();
    return replica;
  }

  /** Takes over a live process recorded by a previous engine; undefined when that very process is gone. */
  static adopt(input: ReplicaIdentityInput, record: ReplicaRecord): Replica | undefined {
    const identity = { pid: record.pid, startTime: record.startTime };
    if (!isSameProcessAlive(identity)) return undefined;
    const replica = new Replica(input, record.restarts, record.startedAt);
    replica.identity = identity;
    replica.state = 'Running';
    replica.run++;
    replica.watchAdopted(replica.run);
    replica.startProbes(replica.run);
    return replica;
  }

  /** Gives an adopted replica the template it runs (known again once its App is reconciled), so it can restart. */
  attachTemplate(template: ReplicaTemplate): void {
    this.template ??= template;
  }

  record(): ReplicaRecord | undefined {
    if (!this.identity) return undefined;
    const { namespace, app, index, ports, templateHash, revision, releaseKey, readinessProbe, livenessProbe } = this.input;
    return {
      namespace,
      app,
      index,
      pid: this.identity.pid,
      startTime: this.identity.startTime,
      ports,
      templateHash,
      releaseKey,
      revision,
      startedAt: this.startedAt,
      restarts: this.restarts,
      readinessProbe,
      livenessProbe,
    };
  }

  /** SIGTERM to the process group, SIGKILL after the grace period; resolves when the group is gone. */
  async terminate(graceMs: number): Promise<void> {
    const pid = this.identity?.pid;
    this.state = 'Terminating';
    this.setReady(false, false);
    this.clearTimers();
    if (pid !== undefined && this.identity && isSameProcessAlive(this.identity)) {
      const exited = this.child ? new Promise<void>((resolve) => (this.exited = resolve)) : Promise.resolve();
      await stopProcessGroup(pid, { graceMs, mustEnd: false });
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 1_000))]);
    }
    this.identity = undefined;
    this.state = 'Terminated';
  }

  /** Stops watching and probing but leaves the process running (the engine stops, the apps stay). */
  detach(): void {
    this.run++;
    this.clearTimers();
    this.child?.removeAllListeners('exit');
    this.child?.unref();
  }

  private spawn(): void {
    const template = this.template!;
    const runId = ++this.run;
    this.startedAt = new Date().toISOString();
    this.state = 'Starting';
    const output = startReplicaLogWriter(this.input.logFile, this.input.logLimits);
    const env = { ...template.env, ...portEnv(this.input.ports, template.portNames), KEDGE_REPLICA: String(this.index), [ReplicaMarkerEnv]: this.input.marker };
    let child: ChildProcess;
    try {
      child = spawn(template.argv[0]!, template.argv.slice(1), { cwd: template.cwd, env, stdio: ['ignore', output, output], detached: true });
    } finally {
      output.destroy();
    }
    this.child = child;
    child.once('error', (error) => this.onExit(runId, `could not start '${template.argv[0]}': ${error.message}`));
    child.once('exit', (code, signal) => this.onExit(runId, signal ? `killed by ${signal}` : `exited with code ${code}`));
    if (child.pid === undefined) return;
    recordStartedProcess(child.pid, `replica ${this.input.namespace}/${this.input.app}-${this.index}`);
    const startTime = processStartTime(child.pid);
    this.identity = startTime ? { pid: child.pid, startTime } : undefined;
    this.state = 'Running';
    this.startProbes(runId);
    this.input.onChange({ type: 'Normal', reason: 'Started', message: `started replica ${this.index} (pid ${child.pid}) of revision '${this.input.revision}'` });
  }

  private onExit(runId: number, how: string): void {
    if (runId !== this.run) return;
    this.run++;
    this.child = undefined;
    this.identity = undefined;
    this.clearTimers();
    if (this.state === 'Terminating' || this.state === 'Terminated') {
      this.exited?.();
      return;
    }
    this.setReady(false, false);
    const why = this.killedForLiveness ? 'was restarted after failing its liveness probe' : how;
    this.killedForLiveness = false;
    this.lastExit = `${why} at ${new Date().toISOString()}`;
    if (!this.template) {
      this.state = 'Terminated';
      this.input.onChange({ type: 'Warning', reason: 'Exited', message: `adopted replica ${this.index} ${why}` });
      return;
    }
    const { baseMs, maxMs, resetAfterMs } = this.input.backoff;
    if (Date.now() - Date.parse(this.startedAt) > resetAfterMs) this.crashStreak = 0;
    this.crashStreak++;
    const delay = Math.min(maxMs, baseMs * 2 ** (this.crashStreak - 1));
    this.restarts++;
    this.state = 'CrashLoopBackOff';
    this.input.onChange({ type: 'Warning', reason: 'BackOff', message: `replica ${this.index} ${why}; restarting in ${delay} ms (restart ${this.restarts})` });
    this.after(delay, () => this.spawn());
  }

  private watchAdopted(runId: number): void {
    const check = () => {
      if (runId !== this.run) return;
      if (this.identity && isSameProcessAlive(this.identity)) this.after(500, check);
      else this.onExit(runId, 'exited while adopted');
    };
    this.after(500, check);
  }

  private startProbes(runId: number): void {
    const { readinessProbe, livenessProbe } = this.input;
    if (readinessProbe) this.probeLoop(runId, readinessProbe, (ok) => ok !== this.ready && this.setReady(ok, true));
    else this.setReady(true, true);
    if (livenessProbe) this.probeLoop(runId, livenessProbe, (ok) => !ok && this.failLiveness());
  }

  /** Runs `probe` every period; calls `onResult` when `successThreshold`/`failureThreshold` results in a row agree. */
  private probeLoop(runId: number, probe: AppProbe, onResult: (ok: boolean) => void): void {
    let successes = 0;
    let failures = 0;
    const tick = async () => {
      if (runId !== this.run) return;
      const ok = await runProbe(probe, this.input.ports);
      if (runId !== this.run) return;
      successes = ok ? successes + 1 : 0;
      failures = ok ? 0 : failures + 1;
      if (ok && successes >= (probe.successThreshold ?? 1)) onResult(true);
      if (!ok && failures >= (probe.failureThreshold ?? 3)) {
        failures = 0;
        onResult(false);
      }
      this.after((probe.periodSeconds ?? 10) * 1000, () => void tick());
    };
    this.after((probe.initialDelaySeconds ?? 0) * 1000, () => void tick());
  }

  private failLiveness(): void {
    const pid = this.identity?.pid;
    if (pid === undefined || this.killedForLiveness) return;
    this.killedForLiveness = true;
    this.setReady(false, false);
    this.input.onChange({ type: 'Warning', reason: 'Unhealthy', message: `liveness probe of replica ${this.index} failed; restarting it` });
    const adopted = !this.child;
    void stopProcessGroup(pid, { graceMs: this.template?.terminationGraceMs ?? 10_000, mustEnd: false }).then(() => {
      // An adopted process is no child of ours: no exit event comes, the /proc watch notices.
      if (adopted) this.onExit(this.run, 'was killed');
    });
  }

  private setReady(ready: boolean, notify: boolean): void {
    if (this.ready === ready) return;
    this.ready = ready;
    if (notify) this.input.onChange();
  }

  private after(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  private clearTimers(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
