/**
 * Cost of packing one artifact (tar.gz + sha256) of the fixture repository's checkout (12 YAML files, ~20 KiB):
 * `node --import tsx bench/sources/pack.ts [--packs 500]`. Prints CPU and wall time per pack; removes its temp dir.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { packArtifact } from '../../src/source/artifact/index.ts';

const { values: flags } = parseArgs({ options: { packs: { type: 'string', default: '500' } } });
const packs = Number(flags.packs);
const root = mkdtempSync(join(tmpdir(), 'pack-bench-'));
try {
  const dir = join(root, 'checkout');
  mkdirSync(join(dir, 'deploy'), { recursive: true });
  mkdirSync(join(dir, '.git'));
  writeFileSync(join(dir, 'deploy', 'kustomization.yaml'), 'resources:\n');
  for (let i = 0; i < 11; i++) {
    const data = Array.from(
      { length: 40 },
      (_, k) => `  key${k}: "value ${i}-${k} ${'x'.repeat(20)}"\n`,
    ).join('');
    writeFileSync(join(dir, 'deploy', `app-${i}.yaml`), `apiVersion: v1\nkind: ConfigMap\ndata:\n${data}`);
  }
  const out = join(root, 'out');
  mkdirSync(out);
  await packArtifact(dir, join(out, 'warm-up.tar.gz'));
  const cpu = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < packs; i++) await packArtifact(dir, join(out, `${i}.tar.gz`));
  const wall = (performance.now() - start) / packs;
  const used = process.cpuUsage(cpu);
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  process.stdout.write(
    `packArtifact, ${packs} packs: ${((used.user + used.system) / 1000 / packs).toFixed(2)} ms CPU, ${wall.toFixed(2)} ms wall per pack (load ${load})\n`,
  );
} finally {
  rmSync(root, { recursive: true, force: true });
}
