import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { packagePath, runsCompiled } from '../package-paths.ts';
import type { TrafficSplit } from './canary/traffic-split.ts';

/** What the engine asks of the forwarding thread, per expose proxy `id`; `call` asks for a reply. */
export type ForwardingCommand =
  | { op: 'listen'; id: number; port: number; owner: string; call?: number }
  | {
      op: 'backends';
      id: number;
      ports: readonly number[];
      split?: TrafficSplit;
      revisions?: Readonly<Record<number, string>>;
      call?: number;
    }
  | { op: 'stats'; id: number; window: boolean; call?: number }
  | { op: 'drain'; id: number; port: number; timeoutMs: number; call?: number }
  | { op: 'close'; id: number; call?: number };

/** The forwarding thread's answer to the command numbered `call`: done, or failed with `error`. */
export interface ForwardingReply {
  call: number;
  error?: string;
  /** What the command returns (`stats`: the per-revision counts). */
  result?: unknown;
}

type Pending = {
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
  command: ForwardingCommand;
};

/**
 * The worker thread that does the HTTP forwarding of every `http` expose proxy of this process
 * (`http-forwarding-worker.ts`), so that parsing and forwarding requests never waits for the engine's event
 * loop (reconciles, store writes) and never holds it up. Started with the first proxy, ended with the last
 * (it never keeps the process alive). Commands reach the thread in the order they are sent. If the thread
 * dies, it is started again and every live proxy is set up again (listen + backends): what was in flight is
 * lost, pending drains resolve, and new requests are served as before. A thread that dies before it ever
 * answered is not started again: the calls waiting for it fail with the reason.
 */
export class ForwardingThread {
  private static current: ForwardingThread | undefined;
  private worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private readonly live = new Map<number, { listen: ForwardingCommand; backends?: ForwardingCommand }>();
  private calls = 0;
  private ids = 0;
  private stopping = false;

  private constructor() {
    this.worker = this.start();
  }

  /** The thread of this process, started if there is none. */
  static get(): ForwardingThread {
    ForwardingThread.current ??= new ForwardingThread();
    return ForwardingThread.current;
  }

  /** A new proxy id: the thread's name for one expose proxy. */
  newId(): number {
    return ++this.ids;
  }

  /** Sends `command` and resolves when the thread has carried it out (rejects with its error). */
  call<T = void>(command: ForwardingCommand): Promise<T> {
    if (this.stopping)
      return command.op === 'listen'
        ? Promise.reject(new Error('the HTTP forwarding thread has stopped'))
        : Promise.resolve(undefined as T);
    this.remember(command);
    const call = ++this.calls;
    // The thread holds the process open only while someone waits for it.
    this.worker.ref();
    return new Promise<T>((resolve, reject) => {
      this.pending.set(call, { resolve: resolve as (result: unknown) => void, reject, command });
      this.worker.postMessage({ ...command, call });
    }).finally(() => {
      if (this.pending.size === 0) this.worker.unref();
      if (command.op === 'close') this.endIfUnused();
    });
  }

  /** Sends `command` without waiting for it to be carried out. */
  send(command: ForwardingCommand): void {
    this.remember(command);
    this.worker.postMessage(command);
  }

  private remember(command: ForwardingCommand): void {
    if (command.op === 'listen') this.live.set(command.id, { listen: command });
    else if (command.op === 'backends') {
      const entry = this.live.get(command.id);
      if (entry) entry.backends = command;
    } else if (command.op === 'close') this.live.delete(command.id);
  }

  private endIfUnused(): void {
    if (this.live.size > 0 || this.pending.size > 0 || ForwardingThread.current !== this) return;
    ForwardingThread.current = undefined;
    this.stopping = true;
    void this.worker.terminate();
  }

  private start(): Worker {
    const worker = runsCompiled
      ? new Worker(packagePath('dist', 'http-forwarding-worker.js'))
      : // The TypeScript sources (tests, benches): tsx's loader registered inside the thread first.
        new Worker(
          `import(${JSON.stringify(tsxApi())}).then((tsx) => { tsx.register(); ` +
            `return import(${JSON.stringify(pathToFileURL(packagePath('src', 'host', 'http-forwarding-worker.ts')).href)}); })`,
          { eval: true },
        );
    worker.unref();
    let answered = false;
    worker.on('message', (reply: ForwardingReply) => {
      answered = true;
      const pending = this.pending.get(reply.call);
      if (!pending) return;
      this.pending.delete(reply.call);
      if (reply.error === undefined) pending.resolve(reply.result);
      else pending.reject(new Error(reply.error));
    });
    let failure = 'it exited';
    worker.on('error', (error) => (failure = error.message)); // 'exit' follows
    worker.on('exit', () => {
      if (this.stopping) return;
      // A thread that never answered cannot start (missing build, broken install): fail, do not loop.
      if (answered) this.restart();
      else this.fail(`the HTTP forwarding thread did not start: ${failure}`);
    });
    return worker;
  }

  /** The thread cannot start: every pending call fails with `message`; the next proxy tries a new thread. */
  private fail(message: string): void {
    this.stopping = true;
    if (ForwardingThread.current === this) ForwardingThread.current = undefined;
    for (const pending of this.pending.values()) pending.reject(new Error(message));
    this.pending.clear();
    this.live.clear();
  }

  /** After the thread died: a new one, every live proxy set up again, pending calls settled. */
  private restart(): void {
    this.worker = this.start();
    for (const [call, pending] of [...this.pending]) {
      this.pending.delete(call);
      if (pending.command.op === 'listen' && this.live.has(pending.command.id)) {
        this.pending.set(call, pending);
        this.worker.postMessage({ ...pending.command, call });
      } else pending.resolve(undefined);
    }
    for (const { listen, backends } of this.live.values()) {
      if (![...this.pending.values()].some((p) => p.command === listen)) this.worker.postMessage(listen);
      if (backends) this.worker.postMessage(backends);
    }
  }
}

/** tsx's ESM registration API, for the thread when it runs the TypeScript sources. */
function tsxApi(): string {
  // createRequire resolves the CommonJS build; the thread imports the ESM one beside it.
  const cjs = createRequire(import.meta.url).resolve('tsx/esm/api');
  return pathToFileURL(cjs.replace(/\.cjs$/, '.mjs')).href;
}
