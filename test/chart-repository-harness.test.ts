import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHelm, startChartRepository, type ChartRepository } from './harness/chart-repository.ts';

// The harness is a real chart repository: the real helm client adds it, searches it and pulls from it.
describe('chart repository harness', () => {
  let repo: ChartRepository;
  let home: string;
  beforeAll(async () => {
    repo = await startChartRepository({ basicAuth: { username: 'u', password: 'p' }, tls: true });
    home = mkdtempSync(join(tmpdir(), 'kedge-helm-home-'));
  });
  afterAll(async () => {
    await repo?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('serves charts that helm can find and pull, with basic auth over TLS', async () => {
    await repo.publish({ name: 'demo', version: '1.0.0' });
    await repo.publish({ name: 'demo', version: '1.2.0' });
    const ca = join(home, 'ca.crt');
    writeFileSync(ca, repo.caPem!);
    await runHelm(home, [
      'repo',
      'add',
      'test',
      repo.url,
      '--username',
      'u',
      '--password',
      'p',
      '--ca-file',
      ca,
    ]);
    const search = await runHelm(home, ['search', 'repo', 'test/demo', '--versions']);
    expect(search).toContain('1.2.0');
    expect(search).toContain('1.0.0');
    await runHelm(home, ['pull', 'test/demo', '--version', '~1.0', '--destination', home]);
    expect(existsSync(join(home, 'demo-1.0.0.tgz'))).toBe(true);
    expect(repo.requests.some((r) => r.authorization === undefined)).toBe(false);
  });
});
