import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, request, type Server } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkout, resolveRemote } from '../src/source/git/index.ts';
import { eventually } from './harness/eventually.ts';
import { createRepo, type TestRepo } from './harness/git-repo.ts';
import { startHttpGitServer, type HttpGitServer } from './harness/git-servers.ts';

let repo: TestRepo;
let work: string;
let git: HttpGitServer;
let proxy: Server;
let proxyPort = 0;
const proxied: string[] = [];
let silent: ReturnType<typeof createNetServer>;
let silentPort = 0;
const silentSockets = new Set<Socket>();

const portOf = (server: { address(): unknown }): number => (server.address() as { port: number }).port;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'kedge-proxy-'));
  repo = createRepo({ files: { 'a.yaml': 'a' }, name: 'app' });
  git = await startHttpGitServer({ root: join(repo.dir, '..') });
  // A plain forwarding HTTP proxy: it sees absolute-form request targets.
  proxy = createHttpServer((req, res) => {
    proxied.push(req.url ?? '');
    const target = new URL(req.url ?? '');
    const upstream = request(
      {
        host: target.hostname,
        port: target.port,
        path: `${target.pathname}${target.search}`,
        method: req.method,
        headers: req.headers,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyPort = portOf(proxy);
  // Accepts connections and never answers: git hangs until its deadline.
  silent = createNetServer((socket) => {
    silentSockets.add(socket);
    socket.on('close', () => silentSockets.delete(socket));
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  silentPort = portOf(silent);
});

afterAll(async () => {
  for (const socket of silentSockets) socket.destroy();
  if (silent) await new Promise((resolve) => silent.close(resolve));
  if (proxy) {
    proxy.closeAllConnections();
    await new Promise((resolve) => proxy.close(resolve));
  }
  await git?.stop();
  rmSync(work, { recursive: true, force: true });
  if (repo) rmSync(join(repo.dir, '..'), { recursive: true, force: true });
});

/** Processes whose command line mentions the silent server's port. */
function gitProcessesOnSilentPort(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmdline.includes(`127.0.0.1:${silentPort}/`)) found.push(cmdline);
    } catch {
      // process ended while listing
    }
  }
  return found;
}

describe('proxy', () => {
  it('sends http traffic through proxyUrl', async () => {
    const result = await checkout(git.url('app'), { branch: 'main' }, {}, join(work, 'proxied'), {
      timeoutMs: 30_000,
      proxyUrl: `http://127.0.0.1:${proxyPort}`,
    });
    expect(result.commit).toBe(repo.revParse());
    expect(proxied.some((url) => url.startsWith(`${git.url('app')}/info/refs`))).toBe(true);
  });
});

describe('timeouts and cancellation', () => {
  it('kills git (and its remote helper) when the timeout passes', async () => {
    const url = `http://127.0.0.1:${silentPort}/app`;
    await expect(resolveRemote(url, { branch: 'main' }, {}, { timeoutMs: 1_000 })).rejects.toMatchObject({
      code: 'timeout',
    });
    await eventually(() => gitProcessesOnSilentPort().length === 0, { what: 'git processes to be gone' });
  });

  it('stops a checkout when the signal aborts', async () => {
    const controller = new AbortController();
    const url = `http://127.0.0.1:${silentPort}/app`;
    const pending = checkout(url, { branch: 'main' }, {}, join(work, 'aborted'), {
      timeoutMs: 60_000,
      signal: controller.signal,
    });
    await eventually(() => gitProcessesOnSilentPort().length > 0, { what: 'git to connect' });
    controller.abort();
    await expect(pending).rejects.toMatchObject({
      code: 'timeout',
      message: expect.stringMatching(/aborted/) as unknown,
    });
    await eventually(() => gitProcessesOnSilentPort().length === 0, { what: 'git processes to be gone' });
  });
});
