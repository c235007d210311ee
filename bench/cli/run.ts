/**
 * CLI and engine start-up benchmark: `kedge --version` and `kedge get kustomizations -A` (100 Kustomizations)
 * against `kubectl get configmaps -A` (100 ConfigMaps, a real kube-apiserver from `kedge dev cluster up`), all
 * interleaved in the same run; then the engine: start → /readyz and RSS with an empty store, and RSS with
 * N Kustomizations Ready (store target). `--before DIR` runs the same figures for another checkout (e.g. the
 * tsx-run CLI before the compiled one) in the same run.
 *
 *   npm run build && node --import tsx bench/cli/run.ts [--runs 20] [--n 1000] [--before DIR]
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { peakRssBytes, rssBytes } from '../sources/proc-usage.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    n: { type: 'string', default: '1000' },
    before: { type: 'string' },
    'engine-runs': { type: 'string', default: '5' },
  },
});
const RUNS = Number(values.runs);
const N = Number(values.n);
const ENGINE_RUNS = Number(values['engine-runs']);
const AFTER = resolve(import.meta.dirname, '../../bin/kedge.js');
const BEFORE = values.before ? resolve(values.before, 'bin/kedge.js') : undefined;
const builds: Array<{ label: string; bin: string }> = [
  { label: 'kedge', bin: AFTER },
  ...(BEFORE ? [{ label: 'before', bin: BEFORE }] : []),
];

const root = mkdtempSync(join(tmpdir(), 'kedge-bench-cli-'));
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const say = (line: string) => process.stdout.write(`${line}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/** Wall and CPU (user + sys) seconds of one command, from /usr/bin/time. */
function timed(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): { wall: number; cpu: number } {
  const result = spawnSync('/usr/bin/time', ['-f', '%e %U %S', command, ...args], { encoding: 'utf8', env });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`);
  const [wall = NaN, user = NaN, sys = NaN] = result.stderr.trim().split('\n').at(-1)!.split(' ').map(Number);
  return { wall, cpu: user + sys };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise((done) => server.close(done));
  return port;
}

const kedge = (bin: string, ...args: string[]) =>
  execFileSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });

const clusterDir = join(root, 'cluster');
try {
  say(`kedge CLI bench, ${new Date().toISOString()}, node ${process.version}, load average ${load()}`);
  // ---- Fixtures: a real kube-apiserver with 100 ConfigMaps, a data dir with 100 Kustomizations.
  kedge(AFTER, 'dev', 'cluster', 'up', '--dir', clusterDir);
  const kubeconfig = join(clusterDir, 'kubeconfig');
  const configMaps = Array.from(
    { length: 100 },
    (_, i) =>
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-${i}, namespace: default}\ndata: {k: v}\n`,
  );
  writeFileSync(join(root, 'configmaps.yaml'), configMaps.join('---\n'));
  execFileSync(
    'kubectl',
    ['--kubeconfig', kubeconfig, 'apply', '--server-side', '-f', join(root, 'configmaps.yaml')],
    { stdio: 'ignore' },
  );
  const listing = (n: number, path: (i: number) => string, interval = '10m') =>
    Array.from(
      { length: n },
      (_, i) =>
        `apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: ks-${i}, namespace: default}\nspec: {interval: ${interval}, path: ${path(i)}, prune: true, sourceRef: {kind: GitRepository, name: repo}}\n`,
    );
  writeFileSync(join(root, 'ks100.yaml'), listing(100, () => './').join('---\n'));
  const dataDirs = new Map(builds.map((b) => [b.label, join(root, `get-${b.label}`)]));
  for (const b of builds)
    kedge(b.bin, '--data-dir', dataDirs.get(b.label)!, 'apply', '-f', join(root, 'ks100.yaml'));

  // ---- Commands, interleaved so that the machine's load hits all of them alike.
  const commands: Array<{ name: string; run: () => { wall: number; cpu: number } }> = [
    {
      name: 'kubectl get configmaps -A',
      run: () => timed('kubectl', ['--kubeconfig', kubeconfig, 'get', 'configmaps', '-A']),
    },
    ...builds.flatMap((b) => [
      { name: `${b.label} --version`, run: () => timed(process.execPath, [b.bin, '--version']) },
      {
        name: `${b.label} get kustomizations -A`,
        run: () =>
          timed(process.execPath, [
            b.bin,
            '--data-dir',
            dataDirs.get(b.label)!,
            'get',
            'kustomizations',
            '-A',
          ]),
      },
    ]),
  ];
  for (const c of commands) c.run(); // warm-up: page cache, kubectl's discovery cache
  const samples = new Map(commands.map((c) => [c.name, { wall: [] as number[], cpu: [] as number[] }]));
  for (let i = 0; i < RUNS; i++) {
    for (const c of commands) {
      const t = c.run();
      samples.get(c.name)!.wall.push(t.wall);
      samples.get(c.name)!.cpu.push(t.cpu);
    }
  }
  const floor = samples.get('kubectl get configmaps -A')!;
  say(`\n${RUNS} interleaved runs each, medians (load average now ${load()}):`);
  say('| command | wall | CPU | wall / kubectl | CPU / kubectl |\n|---|---|---|---|---|');
  for (const [name, s] of samples) {
    const w = median(s.wall);
    const c = median(s.cpu);
    say(
      `| \`${name}\` | ${w.toFixed(2)} s | ${c.toFixed(2)} s | ${(w / median(floor.wall)).toFixed(2)}× | ${(c / median(floor.cpu)).toFixed(2)}× |`,
    );
  }

  // ---- Engine, empty store: spawn → /readyz 200, RSS 2 s after ready.
  const empty = join(root, 'empty');
  mkdirSync(empty);
  async function startEngine(bin: string, dataDir: string, manifests: string) {
    const port = await freePort();
    const started = Date.now();
    const child = spawn(
      process.execPath,
      [
        bin,
        '--data-dir',
        dataDir,
        '--log-level',
        'warn',
        'up',
        '-f',
        manifests,
        '--storage-addr',
        '127.0.0.1:0',
        '--metrics-addr',
        `127.0.0.1:${port}`,
        '--receiver-addr',
        '127.0.0.1:0',
      ],
      { stdio: 'ignore' },
    );
    const exited = new Promise((done) => child.once('exit', done));
    const stop = async () => {
      child.kill('SIGTERM');
      await exited;
    };
    try {
      for (;;) {
        const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
          (r) => r.ok,
          () => false,
        );
        if (ok) break;
        if (Date.now() - started > 120_000) throw new Error(`${bin}: engine not ready after 120 s`);
        await new Promise((done) => setTimeout(done, 20));
      }
    } catch (error) {
      await stop();
      throw error;
    }
    return { pid: child.pid!, readyMs: Date.now() - started, port, stop };
  }
  say(`\nEngine with an empty store, ${ENGINE_RUNS} runs each, medians (load average ${load()}):`);
  say('| build | start → ready | RSS 2 s after ready | peak RSS (VmHWM) |\n|---|---|---|---|');
  for (const b of builds) {
    const ready: number[] = [];
    const rss: number[] = [];
    const hwm: number[] = [];
    for (let i = 0; i < ENGINE_RUNS; i++) {
      const engine = await startEngine(b.bin, join(root, `empty-${b.label}-${i}`), empty);
      await new Promise((done) => setTimeout(done, 2000));
      ready.push(engine.readyMs);
      rss.push(rssBytes(engine.pid));
      hwm.push(peakRssBytes(engine.pid));
      await engine.stop();
    }
    say(
      `| ${b.label} | ${(median(ready) / 1000).toFixed(2)} s | ${mib(median(rss))} | ${mib(median(hwm))} |`,
    );
  }

  // ---- Engine with N Kustomizations (one ConfigMap each, store target) from one GitRepository, all Ready.
  if (N > 0) {
    const repo = join(root, 'repo');
    mkdirSync(repo);
    for (let i = 0; i < N; i++) {
      mkdirSync(join(repo, `ks-${i}`));
      writeFileSync(
        join(repo, `ks-${i}`, 'cm.yaml'),
        `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-${i}, namespace: default}\ndata: {k: v}\n`,
      );
    }
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=b', '-c', 'user.email=b@b', ...args], {
        cwd: repo,
        stdio: 'ignore',
      });
    git('init', '-q', '--initial-branch=main');
    git('add', '-A');
    git('commit', '-qm', 'fixture');
    const source = `apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: repo, namespace: default}\nspec: {interval: 10m, url: "file://${repo}", ref: {branch: main}}\n`;
    writeFileSync(join(root, 'many.yaml'), [source, ...listing(N, (i) => `./ks-${i}`)].join('---\n'));
    say(
      `\nEngine with ${N} Kustomizations Ready (store target, one ConfigMap each), one run each (load average ${load()}):`,
    );
    say('| build | all Ready after | RSS when all Ready | peak RSS (VmHWM) |\n|---|---|---|---|');
    for (const b of builds) {
      const engine = await startEngine(b.bin, join(root, `many-${b.label}`), join(root, 'many.yaml'));
      try {
        const started = Date.now();
        for (;;) {
          const text = await fetch(`http://127.0.0.1:${engine.port}/metrics`).then(
            (r) => r.text(),
            () => '',
          );
          const line = text
            .split('\n')
            .find(
              (l) =>
                l.startsWith('kedge_reconcile_total{') &&
                l.includes('kind="Kustomization"') &&
                l.includes('result="success"'),
            );
          if (line && Number(line.slice(line.lastIndexOf(' ') + 1)) >= N) break;
          if (Date.now() - started > 1_800_000)
            throw new Error(`${b.label}: ${N} Kustomizations not Ready after 30 min`);
          await new Promise((done) => setTimeout(done, 250));
        }
        say(
          `| ${b.label} | ${((Date.now() - started + engine.readyMs) / 1000).toFixed(1)} s | ${mib(rssBytes(engine.pid))} | ${mib(peakRssBytes(engine.pid))} |`,
        );
      } finally {
        await engine.stop();
      }
    }
  }
  say(`\nload average at the end: ${load()}`);
} finally {
  spawnSync(process.execPath, [AFTER, 'dev', 'cluster', 'down', '--dir', clusterDir], { stdio: 'ignore' });
  rmSync(root, { recursive: true, force: true });
}
