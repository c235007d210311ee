import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ReplicaRegistry, type ReplicaRecord } from '../src/host/replica-registry.ts';
import { spawnTracked } from './harness/tracked-process.ts';

let dataDir: string | undefined;
afterEach(async () => {
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
  dataDir = undefined;
});

// A process killed at any instant of a save must leave a readable replicas.json (the engine adopts its replicas
// from it). A second process polling the file while the registry is rewritten sees what a crash at that instant
// would leave.
const watcherScript = `
const { readFileSync } = require('node:fs');
const file = process.argv[1];
let reads = 0, missing = 0, torn = 0;
process.stdout.write('polling\\n');
process.stdin.on('data', () => {});
process.stdin.on('end', () => { process.stdout.write(JSON.stringify({ reads, missing, torn }) + '\\n'); process.exit(0); });
(function poll() {
  for (let i = 0; i < 200; i++) {
    reads++;
    try { JSON.parse(readFileSync(file, 'utf8')); } catch (e) { if (e.code === 'ENOENT') missing++; else torn++; }
  }
  setImmediate(poll);
})();
`;

describe('host runtime: the replica registry', () => {
  it('keeps replicas.json readable at every instant while it is rewritten', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'kedge-registry-'));
    const registry = new ReplicaRegistry(dataDir);
    registry.save([], []);
    const watcher = spawnTracked(process.execPath, ['-e', watcherScript, registry.file], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const [first] = (await once(watcher.stdout, 'data')) as [Buffer];
    expect(String(first)).toContain('polling');
    for (let i = 1; i <= 2000; i++) {
      const replica: Pick<ReplicaRecord, 'namespace' | 'app' | 'index' | 'pid' | 'startTime' | 'ports'> = {
        namespace: 'default',
        app: 'web',
        index: 0,
        pid: i,
        startTime: String(i),
        ports: { http: 1 },
      };
      registry.save(
        [],
        [{ ...replica, templateHash: 'h', releaseKey: 'k', revision: `r${i}`, startedAt: '', restarts: 0 }],
      );
    }
    watcher.stdin.end();
    const [line] = (await once(watcher.stdout, 'data')) as [Buffer];
    const seen = JSON.parse(String(line)) as { reads: number; missing: number; torn: number };
    expect(seen.reads).toBeGreaterThan(0);
    expect(seen).toMatchObject({ missing: 0, torn: 0 });
    expect(registry.load().from).toBe('current');
  });
});
