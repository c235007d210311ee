import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkout, GitError, resolveRemote, type GitCredentials } from '../src/source/git/index.ts';
import { createRepo, type TestRepo } from './harness/git-repo.ts';
import {
  startGitDaemon,
  startHttpGitServer,
  startSshServer,
  type GitServer,
  type HttpGitServer,
  type SshGitServer,
} from './harness/git-servers.ts';

const opts = { timeoutMs: 30_000 };
const PASSWORD = 's3cret-pa55word';
const TOKEN = 'tok-0123456789abcdef';
let repo: TestRepo;
let root: string;
let work: string;
let daemon: GitServer;
let http: HttpGitServer;
let bearer: HttpGitServer;
let https: HttpGitServer;
let ssh: SshGitServer;
const started: GitServer[] = [];
let n = 0;
/** Command lines of all processes that mentioned a secret, sampled while git talked to the server. */
const leakedArgs: string[] = [];
let samples = 0;

function sampleProcessArguments(): void {
  samples++;
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
    } catch {
      continue;
    }
    const basic = Buffer.from(`kedge:${PASSWORD}`).toString('base64');
    if ([PASSWORD, TOKEN, basic].some((secret) => cmdline.includes(secret))) leakedArgs.push(cmdline);
  }
}
const freshDir = (): string => join(work, `checkout-${n++}`);

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'kedge-transports-'));
  repo = createRepo({ files: { 'deploy/app.yaml': 'kind: App\n' }, name: 'app' });
  root = join(repo.dir, '..');
  // Each server is tracked as soon as it runs, so that afterAll stops it even if another failed to start.
  const track = async <T extends GitServer>(server: Promise<T>): Promise<T> => {
    const running = await server;
    started.push(running);
    return running;
  };
  [daemon, http, bearer, https, ssh] = await Promise.all([
    track(startGitDaemon(root)),
    track(
      startHttpGitServer({
        root,
        basicAuth: { username: 'kedge', password: PASSWORD },
        onRequest: sampleProcessArguments,
      }),
    ),
    track(startHttpGitServer({ root, bearerToken: TOKEN, onRequest: sampleProcessArguments })),
    track(startHttpGitServer({ root, tls: true })),
    track(startSshServer(root)),
  ]);
});

afterAll(async () => {
  await Promise.allSettled(started.map((server) => server.stop()));
  rmSync(work, { recursive: true, force: true });
  rmSync(root, { recursive: true, force: true });
});

/** Fetches main over the transport and checks the content arrived; returns the resolved commit. */
async function fetchOk(url: string, creds: GitCredentials): Promise<void> {
  const remote = await resolveRemote(url, { branch: 'main' }, creds, opts);
  expect(remote.revision).toBe(`main@sha1:${repo.revParse()}`);
  const dir = freshDir();
  const result = await checkout(url, { branch: 'main' }, creds, dir, opts);
  expect(result.commit).toBe(repo.revParse());
  expect(readFileSync(join(dir, 'deploy/app.yaml'), 'utf8')).toBe('kind: App\n');
}

async function fetchFails(url: string, creds: GitCredentials, code: GitError['code']): Promise<GitError> {
  const error = await checkout(url, { branch: 'main' }, creds, freshDir(), opts).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(GitError);
  expect(error).toMatchObject({ code });
  const message = (error as GitError).message;
  for (const secret of [PASSWORD, TOKEN, ssh.passphrase, 'BEGIN OPENSSH'])
    expect(message).not.toContain(secret);
  return error as GitError;
}

describe('transports', () => {
  it('git daemon (git://)', () => fetchOk(daemon.url('app'), {}));

  it('http with the right basic auth', async () => {
    await fetchOk(http.url('app'), { username: 'kedge', password: PASSWORD });
    const basic = `Basic ${Buffer.from(`kedge:${PASSWORD}`).toString('base64')}`;
    expect(http.authorizations).toContain(basic);
  });

  it('http with a wrong password fails with auth, and the message names the url without secrets', async () => {
    const error = await fetchFails(
      http.url('app'),
      { username: 'kedge', password: 'wrong-password-1' },
      'auth',
    );
    expect(error.message).toContain(http.url('app'));
    expect(error.message).not.toContain('wrong-password-1');
  });

  it('http without credentials fails with auth instead of prompting', () =>
    fetchFails(http.url('app'), {}, 'auth'));

  it('scrubs user:password embedded in the url from messages', async () => {
    const url = http.url('missing').replace('http://', `http://kedge:${PASSWORD}@`);
    const error = (await resolveRemote(url, { branch: 'main' }, {}, opts).catch(
      (e: unknown) => e,
    )) as GitError;
    expect(error).toBeInstanceOf(GitError);
    expect(error.message).not.toContain(PASSWORD);
    expect(error.message).toContain(http.url('missing'));
  });

  it('http with credentials embedded in the url (moved out of the url before git runs)', () =>
    fetchOk(http.url('app').replace('http://', `http://kedge:${PASSWORD}@`), {}));

  it('http with a bearer token', () => fetchOk(bearer.url('app'), { bearerToken: TOKEN }));
  it('http with a wrong bearer token fails with auth', () =>
    fetchFails(bearer.url('app'), { bearerToken: 'nope-nope-nope' }, 'auth'));

  it('https with the custom CA', () => fetchOk(https.url('app'), { caPem: https.caPem! }));
  it('https without the CA is refused', () => fetchFails(https.url('app'), {}, 'unreachable'));

  it('ssh with identity and known_hosts', () =>
    fetchOk(ssh.url('app'), { sshIdentity: ssh.identity, sshKnownHosts: ssh.knownHosts }));

  it('ssh with a passphrase-protected identity', () =>
    fetchOk(ssh.url('app'), {
      sshIdentity: ssh.encryptedIdentity,
      sshPassphrase: ssh.passphrase,
      sshKnownHosts: ssh.knownHosts,
    }));

  it('ssh with a wrong passphrase fails with auth', () =>
    fetchFails(
      ssh.url('app'),
      {
        sshIdentity: ssh.encryptedIdentity,
        sshPassphrase: 'wrong passphrase',
        sshKnownHosts: ssh.knownHosts,
      },
      'auth',
    ));

  it.each([
    ['an unknown host key', () => ssh.wrongKnownHosts],
    ['no known_hosts at all', () => ''],
  ])('ssh rejects %s', async (_title, knownHosts) => {
    await fetchFails(ssh.url('app'), { sshIdentity: ssh.identity, sshKnownHosts: knownHosts() }, 'auth');
  });

  it('missing repository over http is not-found', () =>
    fetchFails(http.url('nope'), { username: 'kedge', password: PASSWORD }, 'not-found'));

  it('does not send credentials to another host after a redirect', async () => {
    const open = await startHttpGitServer({ root });
    started.push(open);
    const redirector = createServer((req, res) => {
      res.writeHead(301, { Location: `${open.url('')}${(req.url ?? '/').replace(/^\/+/, '')}` }).end();
    });
    await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
    try {
      const port = (redirector.address() as { port: number }).port;
      await fetchOk(`http://127.0.0.1:${port}/app`, { username: 'kedge', password: PASSWORD });
      expect(open.authorizations.length).toBeGreaterThan(0);
      expect(open.authorizations.filter(Boolean)).toEqual([]);
    } finally {
      redirector.closeAllConnections();
      await new Promise((resolve) => redirector.close(resolve));
    }
  });

  it('no process had a credential in its arguments while git talked to the servers', () => {
    expect(samples).toBeGreaterThan(3);
    expect(leakedArgs).toEqual([]);
  });

  it('unreachable server', async () => {
    const url = daemon.url('app').replace(/:\d+\//, ':1/');
    await expect(resolveRemote(url, { branch: 'main' }, {}, opts)).rejects.toMatchObject({
      code: 'unreachable',
    });
  });
});
