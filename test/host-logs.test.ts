import type { ChildProcess } from 'node:child_process';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import type { Engine } from '../src/engine.ts';
import { eventually } from './harness/eventually.ts';
import {
  alive,
  appObject,
  cleanupDataDir,
  newDataDir,
  packApp,
  pidsOf,
  readyApp,
  startTestEngine,
} from './fixtures/host/app-harness.ts';
import { execFileTracked, spawnTracked as spawn } from './harness/tracked-process.ts';
import { KEDGE_CLI } from './harness/kedge-cli.ts';

const kedge = (dataDir: string, ...args: string[]) =>
  execFileTracked(process.execPath, [...KEDGE_CLI, '--data-dir', dataDir, ...args]);

let engine: Engine | undefined;
let dataDir: string;

afterEach(async () => {
  await engine?.stop();
  engine = undefined;
  await cleanupDataDir(dataDir);
});

/**
 * An app that writes `line <n> <padding>` lines: `$PER_TICK` lines every `$TICK_MS` ms (waiting for each
 * write to be taken), `$LINES` in all, then `done <n>`, and then stays up doing nothing. With `$START_FILE`
 * it first prints `waiting` and starts once that file exists.
 */
const writerScript = `const total = Number(process.env.LINES), perTick = Number(process.env.PER_TICK);
const tickMs = Number(process.env.TICK_MS), pad = 'x'.repeat(Number(process.env.PAD));
let n = 0;
function tick() {
  let chunk = '';
  for (let i = 0; i < perTick && n < total; i++) chunk += 'line ' + n++ + ' ' + pad + '\\n';
  if (n < total) process.stdout.write(chunk, () => setTimeout(tick, tickMs));
  else process.stdout.write(chunk + 'done ' + n + '\\n');
}
const start = process.env.START_FILE;
if (start) {
  console.log('waiting');
  const poll = setInterval(() => { if (require('node:fs').existsSync(start)) { clearInterval(poll); tick(); } }, 50);
} else tick();
setInterval(() => {}, 1 << 30);
`;

function writerApp(source: { artifact: string; revision: string }, env: Record<string, number | string>) {
  return appObject('chatty', source, {
    replicas: 1,
    ports: [],
    readinessProbe: undefined,
    env: Object.entries(env).map(([name, value]) => ({ name, value: String(value) })),
  });
}

/** Total bytes of the replica's log files (current and rotated generations). */
async function logBytes(): Promise<{ total: number; files: string[] }> {
  const dir = join(dataDir, 'logs', 'default', 'chatty');
  const files = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.startsWith('replica-0.log'));
  const sizes = await Promise.all(
    files.map((n) =>
      stat(join(dir, n)).then(
        (s) => s.size,
        () => 0,
      ),
    ),
  );
  return { total: sizes.reduce((a, b) => a + b, 0), files };
}

describe('host runtime: replica logs', () => {
  it("keeps a fast writer's logs within their cap while it writes, newest lines readable through kedge logs", async () => {
    dataDir = await newDataDir();
    const maxBytes = 256 * 1024;
    const files = 3;
    engine = await startTestEngine(dataDir, { logMaxBytes: maxBytes, logMaxFiles: files });
    const source = await packApp(dataDir, 'chatty', { 'server.js': writerScript });
    // 120,000 lines of ~100 bytes: ~12 MB, about 15 times the cap, as fast as the pipe takes it.
    const lines = 120_000;
    await engine.store.apply(writerApp(source, { LINES: lines, PER_TICK: 2_000, TICK_MS: 0, PAD: 88 }));

    let largest = 0;
    let samples = 0;
    await eventually(
      async () => {
        largest = Math.max(largest, (await logBytes()).total);
        samples++;
        const current = await readFile(
          join(dataDir, 'logs', 'default', 'chatty', 'replica-0.log'),
          'utf8',
        ).catch(() => '');
        return current.includes(`done ${lines}\n`);
      },
      { timeoutMs: 120_000, intervalMs: 20, what: 'the app wrote all its lines' },
    );
    // Sampled every 20 ms while ~12 MB went through: never more than the cap on disk, and rotation did happen.
    expect(samples).toBeGreaterThan(1);
    expect(largest, 'bytes on disk while the app wrote').toBeLessThanOrEqual(maxBytes * files);
    expect(largest).toBeGreaterThan(maxBytes);

    // Newest lines through the CLI; rotation lost nothing at the seams (the last line of .1 precedes the first of the file).
    const { stdout } = await kedge(dataDir, 'logs', 'app', 'chatty', '--tail', '2');
    expect(stdout).toMatch(new RegExp(`(^|\\n)\\[replica-0\\] done ${lines}\\n$`));
    const dir = join(dataDir, 'logs', 'default', 'chatty');
    const previous = (await readFile(join(dir, 'replica-0.log.1'), 'utf8')).trimEnd().split('\n');
    const current = (await readFile(join(dir, 'replica-0.log'), 'utf8')).split('\n');
    expect(Number(current[0]!.split(' ')[1])).toBe(Number(previous.at(-1)!.split(' ')[1]) + 1);
    expect((await logBytes()).files.sort()).toEqual(['replica-0.log', 'replica-0.log.1', 'replica-0.log.2']);
  }, 180_000);

  it('kedge logs -f prints every line once across rotations and an engine restart that leaves the app running', async () => {
    dataDir = await newDataDir();
    const options = { logMaxBytes: 64 * 1024, logMaxFiles: 10, leaveAppsRunning: true };
    engine = await startTestEngine(dataDir, options);
    const source = await packApp(dataDir, 'chatty', { 'server.js': writerScript });
    // ~1 MB at ~50 KB/s: fifteen rotations, slow enough for a 250 ms poll with nine generations (~11 s) of slack.
    const lines = 10_000;
    const startFile = join(dataDir, 'start-writing');
    const app = writerApp(source, {
      LINES: lines,
      PER_TICK: 100,
      TICK_MS: 200,
      PAD: 88,
      START_FILE: startFile,
    });
    await engine.store.apply(app);
    const before = await eventually(() => readyApp(engine!.store, 'chatty', source.revision, 1));
    await eventually(() =>
      stat(join(dataDir, 'logs', 'default', 'chatty', 'replica-0.log')).then(() => true),
    );

    let followed = '';
    const follower: ChildProcess = spawn(
      process.execPath,
      [...KEDGE_CLI, '--data-dir', dataDir, 'logs', 'app', 'chatty', '-f', '--replica', '0'],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    onTestFinished(() => void follower.kill());
    follower.stdout!.on('data', (chunk: Buffer) => (followed += chunk.toString()));

    // The app starts writing once the follower runs (the CLI can take long to start on a loaded machine).
    await eventually(() => followed.includes('waiting\n'), {
      timeoutMs: 120_000,
      what: 'the follower started',
    });
    await writeFile(startFile, '');
    // The engine goes away and comes back while the app writes; the app and its log writer go on.
    await eventually(() => followed.split('\n').length > 500, { what: 'some lines followed' });
    await engine.stop();
    engine = undefined;
    expect(pidsOf(before).every(alive)).toBe(true);
    engine = await startTestEngine(dataDir, options);

    await eventually(() => followed.includes(`done ${lines}\n`), {
      timeoutMs: 120_000,
      what: 'every line followed',
    });
    // Every line, in order, once: no gap and no repeat at the rotations or across the engine restart.
    const numbers = followed
      .split('\n')
      .filter((l) => l.startsWith('line '))
      .map((l) => Number(l.split(' ')[1]));
    expect(numbers.length).toBe(lines);
    expect(numbers.every((n, i) => n === i)).toBe(true);
    expect((await stat(join(dataDir, 'logs', 'default', 'chatty', 'replica-0.log.4'))).size).toBeGreaterThan(
      0,
    );
  }, 300_000);

  it('removes the logs of an App when it is deleted', async () => {
    dataDir = await newDataDir();
    engine = await startTestEngine(dataDir);
    const source = await packApp(dataDir, 'chatty', { 'server.js': writerScript });
    await engine.store.apply(writerApp(source, { LINES: 10, PER_TICK: 10, TICK_MS: 0, PAD: 1 }));
    const ready = await eventually(() => readyApp(engine!.store, 'chatty', source.revision, 1));
    const dir = join(dataDir, 'logs', 'default', 'chatty');
    await eventually(async () =>
      (await readFile(join(dir, 'replica-0.log'), 'utf8').catch(() => '')).includes('done 10'),
    );

    await kedge(dataDir, 'delete', 'app', 'chatty', '--silent');
    await eventually(() => pidsOf(ready).every((pid) => !alive(pid)), { what: 'replica stopped' });
    await eventually(async () => (await stat(dir).catch(() => undefined)) === undefined, {
      what: `${dir} removed`,
    });
    await expect(kedge(dataDir, 'logs', 'app', 'chatty')).rejects.toThrow(
      /no logs for App 'default\/chatty'/,
    );
  }, 180_000);
});
