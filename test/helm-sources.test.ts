import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Condition, KObject, ObjectRef } from '../src/api/meta.ts';
import { createLogger } from '../src/runtime/logger.ts';
import { runHelm, startChartRepository, type ChartRepository } from './harness/chart-repository.ts';
import { createRepo } from './harness/git-repo.ts';
import { startHttpGitServer, type HttpGitServer } from './harness/git-servers.ts';
import { startTestEngine, type TestEngine } from './harness/test-engine.ts';

/*
 * HelmRepository and HelmChart against a real chart repository (charts packaged by `helm package`, indexed by
 * `helm repo index`, served on 127.0.0.1) and a real git server; what Kedge stores is read back with helm.
 */

type Artifact = { revision: string; digest: string; url: string; path: string };
type Status = {
  conditions?: Condition[];
  artifact?: Artifact;
  observedChartName?: string;
  observedValuesFiles?: string[];
  observedSourceArtifactRevision?: string;
};
const status = (o: KObject | undefined) => (o?.status ?? {}) as Status;
const condition = (o: KObject | undefined, type: string) =>
  status(o).conditions?.find((c) => c.type === type);
const ref = (kind: string, name: string): ObjectRef => ({ kind, namespace: 'default', name });

let helmHome: string;
beforeAll(() => {
  helmHome = mkdtempSync(join(tmpdir(), 'kedge-helm-test-'));
});
afterAll(() => rmSync(helmHome, { recursive: true, force: true }));

async function withEngine<T>(fn: (t: TestEngine, logs: () => string) => Promise<T>): Promise<T> {
  const captured: Buffer[] = [];
  const destination = new PassThrough();
  destination.on('data', (chunk: Buffer) => captured.push(chunk));
  const t = await startTestEngine({ log: createLogger({ level: 'debug', format: 'json', destination }) });
  try {
    return await fn(t, () => Buffer.concat(captured).toString('utf8'));
  } finally {
    await t.stop();
  }
}

const helmRepository = (name: string, url: string, extra = '') => `
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: ${name}, namespace: default}
spec:
  interval: 1s
  url: ${url}
${extra}`;

const helmChart = (name: string, spec: string) => `
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmChart
metadata: {name: ${name}, namespace: default}
spec:
  interval: 1m
${spec}`;

/** Downloads an artifact and runs `helm <args> <file>` on it (helm show values, helm template). */
async function helmOn(artifact: Artifact, ...args: string[]): Promise<string> {
  const file = join(helmHome, `${createHash('sha256').update(artifact.url).digest('hex')}.tgz`);
  writeFileSync(file, Buffer.from(await (await fetch(artifact.url)).arrayBuffer()));
  return runHelm(helmHome, [...args, file]);
}

describe('HelmRepository and HelmChart from an HTTP chart repository', () => {
  let repo: ChartRepository;
  beforeAll(async () => {
    repo = await startChartRepository();
    await repo.publish({ name: 'demo', version: '1.0.0' });
    await repo.publish({ name: 'demo', version: '1.1.0' });
    await repo.publish({ name: 'demo', version: '2.0.0' });
  });
  afterAll(async () => repo?.stop());

  it('stores the index with the digest of index.yaml as revision, and a chart follows the highest version in range', async () => {
    await withEngine(async (t) => {
      await t.apply(helmRepository('charts', repo.url));
      await t.apply(
        helmChart(
          'demo',
          `  chart: demo\n  version: '1.x'\n  sourceRef: {kind: HelmRepository, name: charts}\n`,
        ),
      );
      const hr = await t.waitForReady(ref('HelmRepository', 'charts'));
      const digest = `sha256:${createHash('sha256')
        .update(readFileSync(join(repo.dir, 'index.yaml')))
        .digest('hex')}`;
      expect(status(hr).artifact?.revision).toBe(digest);
      expect(condition(hr, 'Ready')?.message).toBe(`stored artifact: revision '${digest}'`);
      const index = (await (await fetch(status(hr).artifact!.url)).json()) as {
        entries: Record<string, Array<{ version: string }>>;
      };
      expect(index.entries['demo']?.map((v) => v.version)).toEqual(['2.0.0', '1.1.0', '1.0.0']);

      const chart = await t.waitForReady(ref('HelmChart', 'demo'));
      expect(status(chart).artifact?.revision).toBe('1.1.0');
      expect(status(chart).artifact?.path).toBe('helmchart/default/demo/demo-1.1.0.tgz');
      expect(status(chart).observedChartName).toBe('demo');
      expect(status(chart).observedSourceArtifactRevision).toBe(digest);
      expect(condition(chart, 'Ready')).toMatchObject({
        reason: 'ChartPullSucceeded',
        message: "pulled 'demo' chart with version '1.1.0'",
      });
      // The artifact is the published package, byte for byte.
      const published = readFileSync(join(repo.dir, 'demo-1.1.0.tgz'));
      expect(status(chart).artifact?.digest).toBe(
        `sha256:${createHash('sha256').update(published).digest('hex')}`,
      );

      // A new version in range is published: the repository's new index moves the chart.
      await repo.publish({ name: 'demo', version: '1.2.0' });
      const moved = await t.waitForReady(
        ref('HelmChart', 'demo'),
        (r, o) => r.status === 'True' && status(o).artifact?.revision === '1.2.0',
      );
      expect(await helmOn(status(moved).artifact!, 'show', 'chart')).toContain('version: 1.2.0');
      const events = await t.engine.store.listEvents({ kind: 'HelmChart', name: 'demo' });
      expect(events.map((e) => e.reason)).toContain('ChartPullSucceeded');
    });
  }, 120_000);

  it('merges values files into the chart values and versions it with the generation', async () => {
    await repo.publish({
      name: 'layered',
      version: '0.3.0',
      files: { 'values-prod.yaml': 'greeting: hi from prod\nextra:\n  replicas: 3\n' },
    });
    await withEngine(async (t) => {
      await t.apply(helmRepository('charts', repo.url));
      await t.apply(
        helmChart(
          'layered',
          `  chart: layered\n  sourceRef: {kind: HelmRepository, name: charts}\n  valuesFiles: [values.yaml, values-prod.yaml, missing.yaml]\n  ignoreMissingValuesFiles: true\n`,
        ),
      );
      const chart = await t.waitForReady(ref('HelmChart', 'layered'));
      expect(status(chart).artifact?.revision).toBe('0.3.0+1');
      expect(status(chart).observedValuesFiles).toEqual(['values.yaml', 'values-prod.yaml']);
      expect(condition(chart, 'Ready')).toMatchObject({
        reason: 'ChartPackageSucceeded',
        message:
          "packaged 'layered' chart with version '0.3.0+1' and merged values files [values.yaml values-prod.yaml]",
      });
      const values = await helmOn(status(chart).artifact!, 'show', 'values');
      expect(values).toContain('greeting: hi from prod');
      expect(values).toContain('replicas: 3');
    });
  }, 120_000);

  it('reports bad input on Ready=False and keeps the last good artifact', async () => {
    await withEngine(async (t) => {
      await t.apply(helmRepository('charts', repo.url));
      await t.apply(
        helmChart(
          'demo',
          `  chart: demo\n  version: '~1.0'\n  sourceRef: {kind: HelmRepository, name: charts}\n`,
        ),
      );
      const good = await t.waitForReady(ref('HelmChart', 'demo'));
      expect(status(good).artifact?.revision).toBe('1.0.0');

      // A range nothing matches.
      await t.apply(
        helmChart(
          'demo',
          `  chart: demo\n  version: '>=9.0.0'\n  sourceRef: {kind: HelmRepository, name: charts}\n`,
        ),
      );
      const noMatch = await t.waitForReady(ref('HelmChart', 'demo'), (r) => r.status === 'False');
      expect(condition(noMatch, 'Ready')).toMatchObject({ reason: 'InvalidChartReference' });
      expect(condition(noMatch, 'Ready')?.message).toContain(
        "no 'demo' chart with version matching '>=9.0.0' found",
      );
      expect(condition(noMatch, 'Stalled')?.status).toBe('True');
      expect(status(noMatch).artifact?.revision).toBe('1.0.0');

      // A chart the repository does not have.
      await t.apply(
        helmChart('missing', `  chart: nope\n  sourceRef: {kind: HelmRepository, name: charts}\n`),
      );
      const missing = await t.waitForReady(ref('HelmChart', 'missing'), (r) => r.status === 'False');
      expect(condition(missing, 'Ready')).toMatchObject({ reason: 'InvalidChartReference' });
      expect(condition(missing, 'Ready')?.message).toContain("'nope' is not in the repository index");

      // An index Helm would not load: the repository keeps its last artifact.
      const before = status(await t.get(ref('HelmRepository', 'charts'))).artifact;
      const valid = readFileSync(join(repo.dir, 'index.yaml'), 'utf8');
      repo.writeIndex('entries:\n  demo: []\n');
      try {
        const invalid = await t.waitForReady(ref('HelmRepository', 'charts'), (r) => r.status === 'False');
        expect(condition(invalid, 'Ready')).toMatchObject({
          reason: 'IndexationFailed',
          message: 'failed to load Helm repository from index YAML: no API version specified in index.yaml',
        });
        expect(status(invalid).artifact).toEqual(before);
      } finally {
        repo.writeIndex(valid);
      }
      await t.waitForReady(ref('HelmRepository', 'charts'));

      // An unreachable repository.
      await t.apply(helmRepository('gone', 'http://127.0.0.1:1/charts'));
      const gone = await t.waitForReady(ref('HelmRepository', 'gone'), (r) => r.status === 'False');
      expect(condition(gone, 'Ready')?.reason).toBe('Failed');
      expect(condition(gone, 'Ready')?.message).toMatch(
        /^failed to fetch Helm repository index: GET http:\/\/127\.0\.0\.1:1\/charts\/index\.yaml: .*ECONNREFUSED/,
      );
      await t.apply(helmChart('orphan', `  chart: demo\n  sourceRef: {kind: HelmRepository, name: gone}\n`));
      const orphan = await t.waitForReady(ref('HelmChart', 'orphan'), (r) => r.status === 'False');
      expect(condition(orphan, 'Ready')).toMatchObject({
        reason: 'NoSourceArtifact',
        message: "no artifact available for HelmRepository source 'gone'",
      });
    });
  }, 180_000);
});

describe('HelmRepository with basic auth and TLS', () => {
  let repo: ChartRepository;
  beforeAll(async () => {
    repo = await startChartRepository({
      basicAuth: { username: 'reader', password: 's3cr3t-pass' },
      tls: true,
    });
    await repo.publish({ name: 'private', version: '0.1.0' });
  });
  afterAll(async () => repo?.stop());

  const secrets = (password: string) => `
apiVersion: v1
kind: Secret
metadata: {name: repo-auth, namespace: default}
stringData: {username: reader, password: ${password}}
---
apiVersion: v1
kind: Secret
metadata: {name: repo-ca, namespace: default}
stringData:
  ca.crt: |
${repo
  .caPem!.trim()
  .split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}
`;

  it('fetches the index and the chart with the credentials, and reports refused ones without leaking them', async () => {
    await withEngine(async (t, logs) => {
      await t.apply(secrets('s3cr3t-pass'));
      await t.apply(
        helmRepository(
          'private',
          repo.url,
          '  secretRef: {name: repo-auth}\n  certSecretRef: {name: repo-ca}\n',
        ),
      );
      await t.apply(
        helmChart('private', `  chart: private\n  sourceRef: {kind: HelmRepository, name: private}\n`),
      );
      const chart = await t.waitForReady(ref('HelmChart', 'private'));
      expect(status(chart).artifact?.revision).toBe('0.1.0');
      expect(
        repo.requests
          .filter((r) => r.path.endsWith('.tgz'))
          .every((r) => r.authorization?.startsWith('Basic ')),
      ).toBe(true);

      await t.apply(secrets('wrong-password'));
      await t.apply(
        helmRepository(
          'private',
          repo.url,
          '  secretRef: {name: repo-auth}\n  certSecretRef: {name: repo-ca}\n  timeout: 30s\n',
        ),
      );
      const refused = await t.waitForReady(ref('HelmRepository', 'private'), (r) => r.status === 'False');
      expect(condition(refused, 'Ready')?.reason).toBe('AuthenticationFailed');
      expect(condition(refused, 'Ready')?.message).toContain('401');
      const events = JSON.stringify(await t.engine.store.listEvents());
      for (const text of [JSON.stringify(refused), events, logs()]) {
        expect(text).not.toContain('wrong-password');
        expect(text).not.toContain('s3cr3t-pass');
      }
    });
  }, 120_000);

  it('refuses a server certificate from an unknown CA', async () => {
    await withEngine(async (t) => {
      await t.apply(helmRepository('untrusted', repo.url));
      const failed = await t.waitForReady(ref('HelmRepository', 'untrusted'), (r) => r.status === 'False');
      expect(condition(failed, 'Ready')?.message).toMatch(/certificate/);
    });
  }, 60_000);
});

describe('HelmChart from a GitRepository', () => {
  let deps: ChartRepository;
  let git: HttpGitServer;
  let gitRoot: string;
  beforeAll(async () => {
    deps = await startChartRepository({ basicAuth: { username: 'dep', password: 'dep-pass' } });
    await deps.publish({ name: 'library', version: '1.4.0' });
    gitRoot = mkdtempSync(join(tmpdir(), 'kedge-helm-git-'));
    git = await startHttpGitServer({ root: gitRoot });
  });
  afterAll(async () => {
    await deps?.stop();
    await git?.stop();
    if (gitRoot) rmSync(gitRoot, { recursive: true, force: true });
  });

  it('packages the chart directory with its dependency, merges values files and versions by revision', async () => {
    const repo = createRepo({
      root: gitRoot,
      name: 'app',
      files: {
        'charts/app/Chart.yaml': `apiVersion: v2\nname: app\nversion: 0.2.0\ndependencies:\n  - name: library\n    version: "~1.4"\n    repository: "${deps.url}"\n`,
        'charts/app/values.yaml': 'greeting: base\n',
        'charts/app/templates/cm.yaml':
          'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  greeting: {{ .Values.greeting | quote }}\n',
        'env/prod.yaml': 'greeting: prod\n',
      },
    });
    await withEngine(async (t) => {
      await t.apply(`
apiVersion: v1
kind: Secret
metadata: {name: deps-auth, namespace: default}
stringData: {username: dep, password: dep-pass}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: app, namespace: default}
spec:
  interval: 1s
  url: ${git.url(repo.name)}
  ref: {branch: main}
---
${helmRepository('deps', deps.url, '  secretRef: {name: deps-auth}\n')}
---
${helmChart('app', '  chart: ./charts/app\n  reconcileStrategy: Revision\n  sourceRef: {kind: GitRepository, name: app}\n  valuesFiles: [charts/app/values.yaml, env/prod.yaml]\n')}`);
      const head = repo.revParse();
      const chart = await t.waitForReady(ref('HelmChart', 'app'));
      expect(status(chart).artifact?.revision).toBe(`0.2.0+${head.slice(0, 12)}.1`);
      expect(status(chart).observedSourceArtifactRevision).toBe(`main@sha1:${head}`);
      expect(condition(chart, 'Ready')?.reason).toBe('ChartPackageSucceeded');
      const rendered = await helmOn(status(chart).artifact!, 'template', 'rel');
      expect(rendered).toContain('greeting: "prod"');
      expect(rendered).toContain('name: rel-library');

      // A new commit: the Revision strategy gives a new version without a Chart.yaml bump.
      const next = repo.commit({ 'env/prod.yaml': 'greeting: prod-2\n' });
      const moved = await t.waitForReady(
        ref('HelmChart', 'app'),
        (r, o) => r.status === 'True' && status(o).artifact?.revision === `0.2.0+${next.slice(0, 12)}.1`,
      );
      expect(await helmOn(status(moved).artifact!, 'template', 'rel')).toContain('greeting: "prod-2"');
    });
  }, 180_000);
});
