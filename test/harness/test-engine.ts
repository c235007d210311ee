import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseManifests } from '../../src/api/manifest.ts';
import type { Condition, KObject, ObjectRef } from '../../src/api/meta.ts';
import { startEngine, type Engine, type EngineSettings } from '../../src/engine.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { eventually } from './eventually.ts';

/** An engine on a temp data dir with free ports and a quiet logger; `restart` keeps the data dir. */
export interface TestEngine {
  engine: Engine;
  dataDir: string;
  /** Validates YAML as `kedge apply` does and stores every object. */
  apply(yaml: string): Promise<KObject[]>;
  get(ref: ObjectRef): Promise<KObject | undefined>;
  /** Waits until the object's Ready condition satisfies `predicate`, returning the object. */
  waitForReady(ref: ObjectRef, predicate?: (ready: Condition, object: KObject) => boolean, timeoutMs?: number): Promise<KObject>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestEngine(overrides: Partial<EngineSettings> = {}): Promise<TestEngine> {
  const dataDir = overrides.dataDir ?? mkdtempSync(join(tmpdir(), 'kedge-engine-'));
  const settings: EngineSettings = {
    dataDir,
    storageAddress: { host: '127.0.0.1', port: 0 },
    metricsAddress: { host: '127.0.0.1', port: 0 },
    receiverAddress: { host: '127.0.0.1', port: 0 },
    log: createLogger({ level: process.env.KEDGE_TEST_LOG ?? 'silent', format: 'json' }),
    ...overrides,
  };
  const handle: TestEngine = {
    engine: await startEngine(settings),
    dataDir,
    async apply(yaml) {
      const objects = parseManifests(yaml, 'test.yaml');
      for (const object of objects) await handle.engine.store.apply(object);
      return objects;
    },
    get: (ref) => handle.engine.store.get(ref),
    waitForReady: (ref, predicate = (ready) => ready.status === 'True', timeoutMs = 30_000) =>
      eventually(
        async () => {
          const object = await handle.engine.store.get(ref);
          const ready = (object?.status as { conditions?: Condition[] } | undefined)?.conditions?.find((c) => c.type === 'Ready');
          if (!object || !ready) throw new Error(`${ref.kind} ${ref.name} has no Ready condition yet`);
          if (!predicate(ready, object)) throw new Error(`Ready is ${ready.status} (${ready.reason}): ${ready.message}`);
          return object;
        },
        { timeoutMs, what: `${ref.kind} ${ref.namespace}/${ref.name} Ready` },
      ),
    async restart() {
      await handle.engine.stop();
      handle.engine = await startEngine(settings);
    },
    async stop() {
      await handle.engine.stop();
      if (!overrides.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return handle;
}
