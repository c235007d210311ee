import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureStartMs, startsBudgetMs } from './harness/budget.ts';
import { startBrowser, type TestBrowser } from './harness/browser.ts';
import { eventually } from './harness/eventually.ts';
import { createRepo, type TestRepo } from './harness/git-repo.ts';
import { startGitDaemon, type GitServer } from './harness/git-servers.ts';
import { KEDGE_CLI, startKedgeUp } from './harness/kedge-cli.ts';
import { runTracked } from './harness/tracked-process.ts';

/** One CLI start here and now (test/harness/budget.ts): the engine, a `kedge get`, chromium are each about one. */
const startMs = await measureStartMs([...KEDGE_CLI, '--version']);
/** The engine's start, then a fetch and three Kustomization applies of a few ConfigMaps into the store. */
const convergedMs = startsBudgetMs(2, startMs, 30_000);
/** A commit seen at the GitRepository's 2 s interval, fetched, applied, streamed: a few reconciles. */
const followMs = startsBudgetMs(1, startMs, 20_000);
/** What the page shows within a second of the store changing, plus a browser round trip under load. */
const onScreenMs = startsBudgetMs(1, startMs, 5_000);

interface StoredKustomization {
  metadata: { annotations?: Record<string, string> };
  spec?: { suspend?: boolean };
  status?: { lastAppliedRevision?: string };
}

const configMap = (name: string, value: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: ${name} }\ndata: { value: "${value}" }\n`;

function manifests(url: string): string {
  const ks = (name: string, path: string, extra = '') =>
    `apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: { name: ${name} }\nspec:\n  interval: 10m\n  path: ${path}\n  prune: true\n  sourceRef: { kind: GitRepository, name: site }\n${extra}`;
  return [
    `apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: { name: site }\nspec:\n  interval: 2s\n  url: ${url}\n  ref: { branch: main }\n`,
    ks('site', './deploy'),
    ks('extras', './extras', '  dependsOn: [{ name: site }]\n'),
    ks('broken', './no-such-dir'),
  ].join('---\n');
}

/** The dashboard in a browser against `kedge up` on a real git server: what a user sees and does. */
describe('dashboard in a browser', () => {
  const work = mkdtempSync(join(tmpdir(), 'kedge-dashboard-'));
  let repo: TestRepo;
  let git: GitServer;
  let browser: TestBrowser;
  let url: string;
  let up: ReturnType<typeof startKedgeUp>;
  /** The commits of the revision test, oldest first (the rollback test goes back to the first). */
  const commits: string[] = [];

  beforeAll(
    async () => {
      repo = createRepo({
        root: join(work, 'git'),
        name: 'site',
        files: { 'deploy/app.yaml': configMap('app', 'one'), 'extras/extra.yaml': configMap('extra', 'x') },
      });
      git = await startGitDaemon(join(work, 'git'));
      browser = await startBrowser();
      const file = join(work, 'kedge.yaml');
      writeFileSync(file, manifests(git.url('site')));
      up = startKedgeUp(join(work, 'data'), ['-f', file]);
      url = await eventually(() => /dashboard (http:\/\/\S+)/.exec(up.output())?.[1], {
        timeoutMs: convergedMs,
        what: 'kedge up printing the dashboard address',
      });
    },
    startsBudgetMs(4, startMs, convergedMs),
  );

  afterAll(async () => {
    if (up && up.exitCode === null) {
      const exited = new Promise((done) => up.once('exit', done));
      up.kill('SIGTERM');
      await exited;
    }
    await git?.stop();
    await browser?.close();
    rmSync(work, { recursive: true, force: true });
  });

  /** The Kustomization as `kedge get -o json` prints it: what the store holds, read by another process. */
  async function getKustomization(name: string): Promise<StoredKustomization> {
    const run = await runTracked(
      process.execPath,
      [...KEDGE_CLI, '--data-dir', join(work, 'data'), 'get', 'kustomizations', name, '-o', 'json'],
      { timeoutMs: startsBudgetMs(1, startMs) },
    );
    if (run.code !== 0) throw new Error(`kedge get failed (${run.code}): ${run.stderr}`);
    const parsed = JSON.parse(run.stdout) as StoredKustomization | StoredKustomization[];
    return Array.isArray(parsed) ? parsed[0]! : parsed;
  }

  const rowOf = (page: Page, key: string) => page.locator(`.row[data-key="${key}"]`);

  it(
    'lists every object on the overview, failing first, in light and dark',
    async () => {
      const page = await browser.page();
      await page.goto(url);
      await page
        .locator('.card[data-kind="GitRepository"]')
        .getByText('1 ready')
        .waitFor({ timeout: convergedMs });
      await page
        .locator('.card[data-kind="Kustomization"]')
        .getByText('2 ready')
        .waitFor({ timeout: convergedMs });
      await page
        .locator('.card[data-kind="Kustomization"]')
        .getByText('1 failed')
        .waitFor({ timeout: convergedMs });
      // Needs attention: the failing Kustomization, with its message.
      await expect
        .poll(() => rowOf(page, 'Kustomization/default/broken').textContent(), { timeout: onScreenMs })
        .toMatch(/failed.*no-such-dir/);
      expect(await page.locator('.row').count()).toBe(1);
      await browser.screenshot(page, 'overview-light');
      await page.emulateMedia({ colorScheme: 'dark' });
      await browser.screenshot(page, 'overview-dark');
      await page.close();
    },
    convergedMs + onScreenMs * 2,
  );

  it(
    'shows a new commit on screen without a reload',
    async () => {
      const page = await browser.page();
      await page.goto(`${url}/#/kind/Kustomization`);
      const first = repo.revParse().slice(0, 12);
      commits.push(repo.revParse());
      await expect
        .poll(() => rowOf(page, 'Kustomization/default/site').textContent(), { timeout: onScreenMs })
        .toContain(first);
      await browser.screenshot(page, 'kustomizations');
      await page.evaluate(() => void Object.assign(globalThis, { sameDocument: true }));
      commits.push(repo.commit({ 'deploy/app.yaml': configMap('app', 'two') }, { message: 'two' }));
      const second = commits[1]!.slice(0, 12);
      await expect
        .poll(() => rowOf(page, 'Kustomization/default/site').textContent(), { timeout: followMs })
        .toContain(second);
      expect(
        await page.evaluate(() => (globalThis as unknown as { sameDocument?: boolean }).sameDocument),
      ).toBe(true);
      await page.goto(`${url}/#/kind/GitRepository`);
      await expect
        .poll(() => rowOf(page, 'GitRepository/default/site').textContent(), { timeout: onScreenMs })
        .toContain(second);
      await browser.screenshot(page, 'sources');
      await page.close();
    },
    followMs + onScreenMs * 3,
  );

  it(
    'rolls back from the history on the object page and releases the hold',
    async () => {
      expect(commits).toHaveLength(2);
      const [first, second] = commits as [string, string];
      const page = await browser.page();
      await page.goto(`${url}/#/object/Kustomization/default/site`);
      const revision = () => page.getByTestId('revision').textContent();
      await expect.poll(revision, { timeout: onScreenMs }).toContain(second);
      const back = page.locator(`button[data-action="rollback"][data-revision$="${first}"]`);
      await back.waitFor({ timeout: onScreenMs });
      await browser.screenshot(page, 'object-history');
      await back.click();
      await expect
        .poll(() => page.getByTestId('hold').textContent(), { timeout: followMs })
        .toContain(`held at main@sha1:${first}`);
      await expect.poll(revision, { timeout: followMs }).toContain(first);
      const stored = await getKustomization('site');
      expect(stored.metadata.annotations?.['kedge.dev/rollback']).toContain(first);
      expect(stored.status?.lastAppliedRevision).toContain(first);
      await browser.screenshot(page, 'object-rolled-back');
      await page.locator('button[data-action="release"]').click();
      await expect.poll(revision, { timeout: followMs }).toContain(second);
      expect((await getKustomization('site')).metadata.annotations?.['kedge.dev/rollback']).toBeUndefined();
      await page.close();
    },
    followMs * 3 + onScreenMs * 3 + startsBudgetMs(2, startMs),
  );

  it(
    "shows a failing Kustomization's message on its page",
    async () => {
      const page = await browser.page();
      await page.goto(`${url}/#/object/Kustomization/default/broken`);
      await expect
        .poll(() => page.getByTestId('ready-message').textContent(), { timeout: onScreenMs })
        .toMatch(/no-such-dir/);
      await expect
        .poll(() => page.locator('h1 .badge').textContent(), { timeout: onScreenMs })
        .toBe('failed');
      await browser.screenshot(page, 'object-failing');
      await page.close();
    },
    onScreenMs * 2,
  );

  it(
    'suspends and resumes from the object page, as kedge suspend/resume do, and the keyboard reaches it',
    async () => {
      const page = await browser.page();
      const suspended = async () => (await getKustomization('extras')).spec?.suspend === true;
      // Keyboard: the Kustomization list, filtered to "extras", opened with Enter.
      await page.goto(`${url}/#/kind/Kustomization`);
      await rowOf(page, 'Kustomization/default/extras').waitFor({ timeout: onScreenMs });
      await page.keyboard.press('/');
      await page.keyboard.type('extras');
      await page.keyboard.press('Escape');
      await page.keyboard.press('Enter');
      await page.waitForURL(/#\/object\/Kustomization\/default\/extras$/, { timeout: onScreenMs });
      await page.locator('.graph .node.self').waitFor({ timeout: onScreenMs });
      expect(await page.locator('.graph .node').allTextContents()).toEqual([
        expect.stringContaining('site'),
        expect.stringContaining('extras'),
      ]);
      await browser.screenshot(page, 'object-ready');

      await page.locator('button[data-action="suspend"]').click();
      await expect
        .poll(() => page.locator('h1 .badge').textContent(), { timeout: onScreenMs })
        .toBe('suspended');
      expect(await suspended()).toBe(true);
      await page.locator('button[data-action="resume"]').click();
      await expect.poll(() => page.locator('h1 .badge').textContent(), { timeout: onScreenMs }).toBe('ready');
      expect(await suspended()).toBe(false);
      await page.close();
    },
    onScreenMs * 6 + startsBudgetMs(2, startMs),
  );
});
