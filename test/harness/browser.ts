import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { trackedSpawn } from './tracked-process.ts';

/** Debian's chromium (`.ci/debian-packages.txt`); `KEDGE_CHROMIUM` names another. Never a downloaded browser. */
export const chromiumPath = process.env.KEDGE_CHROMIUM ?? '/usr/bin/chromium';

/** Where tests save screenshots (git-ignored): look at them after a run. */
export const screenshotDir = resolve(import.meta.dirname, '../../test-results/dashboard');

export interface TestBrowser {
  browser: Browser;
  /** A new page (tab) with a 1280×800 viewport and the given colour scheme. */
  page(colorScheme?: 'light' | 'dark'): Promise<Page>;
  /** Saves a full-page screenshot as `test-results/dashboard/<name>.png`. */
  screenshot(page: Page, name: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * Starts headless chromium as a tracked process (stopped with the test file even if the test dies) with a
 * fresh profile and nothing that talks to the network on its own, then drives it with Playwright over the
 * DevTools protocol.
 */
export async function startBrowser(): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'kedge-chromium-'));
  const child = trackedSpawn('file')(
    chromiumPath,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--remote-debugging-address=127.0.0.1',
      '--remote-debugging-port=0',
      `--user-data-dir=${profile}`,
      'about:blank',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const endpoint = await new Promise<string>((ok, fail) => {
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      const match = /DevTools listening on (ws:\/\/\S+)/.exec(err);
      if (match?.[1]) ok(match[1]);
    });
    child.once('exit', (code) =>
      fail(new Error(`chromium (${chromiumPath}) exited with ${code} before listening: ${err.slice(-2000)}`)),
    );
  });
  const browser = await chromium.connectOverCDP(endpoint);
  const context = browser.contexts()[0] ?? (await browser.newContext());
  mkdirSync(screenshotDir, { recursive: true });
  return {
    browser,
    async page(colorScheme = 'light') {
      const page = await context.newPage();
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.emulateMedia({ colorScheme });
      return page;
    },
    async screenshot(page, name) {
      const path = join(screenshotDir, `${name}.png`);
      await page.screenshot({ path, fullPage: true });
      return path;
    },
    async close() {
      await browser.close().catch(() => undefined);
      // Chromium's helpers (renderer, GPU, zygote) share its process group: stop them all before removing the profile.
      if (child.exitCode === null && child.pid) process.kill(-child.pid, 'SIGTERM');
      await new Promise((done) => (child.exitCode !== null ? done(undefined) : child.once('exit', done)));
      rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
    },
  };
}
