import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
  type Server,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './eventually.ts';
import { trackedSpawn } from './tracked-process.ts';

/** Servers and their CGI children live as long as their server handle: their fallback cleanup is the test file's end. */
const spawn = trackedSpawn('file');

/** A running git server on 127.0.0.1. */
export interface GitServer {
  /** Clone URL of the repository `<root>/<repoName>`. */
  url(repoName: string): string;
  stop(): Promise<void>;
}

/** Asks the kernel for a free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function waitForPort(port: number, banner?: string): Promise<unknown> {
  return eventually(
    () =>
      new Promise<boolean>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1');
        socket.setTimeout(2000);
        socket.on('error', reject);
        socket.on('timeout', () => (socket.destroy(), reject(new Error('timeout'))));
        if (!banner) socket.on('connect', () => (socket.destroy(), resolve(true)));
        else
          socket.on(
            'data',
            (data) => (
              socket.destroy(),
              data.toString().startsWith(banner) ? resolve(true) : reject(new Error('bad banner'))
            ),
          );
      }),
    { what: `port ${port} to accept connections` },
  );
}

/** Kills a detached child's whole process group and waits for the child to exit. */
async function killGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    return;
  }
  await exited;
}

/** `git daemon` serving every repository under `root` (export-all) over git://. */
export async function startGitDaemon(root: string): Promise<GitServer> {
  const port = await freePort();
  const child = spawn(
    'git',
    [
      'daemon',
      '--reuseaddr',
      '--export-all',
      '--informative-errors',
      `--base-path=${root}`,
      '--listen=127.0.0.1',
      `--port=${port}`,
      root,
    ],
    {
      detached: true,
      stdio: 'ignore',
      env: { PATH: process.env['PATH'], GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' },
    },
  );
  try {
    await waitForPort(port);
  } catch (error) {
    await killGroup(child);
    throw error;
  }
  return { url: (name) => `git://127.0.0.1:${port}/${name}`, stop: () => killGroup(child) };
}

/** Options of {@link startHttpGitServer}. */
export interface HttpGitServerOptions {
  root: string;
  basicAuth?: { username: string; password: string };
  bearerToken?: string;
  /** Serve HTTPS with a certificate from a freshly generated CA. */
  tls?: boolean;
  /** Called at each request while the client is connected (e.g. to inspect the client's processes). */
  onRequest?: () => void;
}

/** A smart-HTTP git server; `caPem` is the CA that signed its certificate when TLS is on. */
export interface HttpGitServer extends GitServer {
  caPem?: string;
  /** Authorization header of every request, in order (to assert what clients sent). */
  authorizations: Array<string | undefined>;
}

/** Smart HTTP via `git http-backend` (CGI) behind node:http(s), with optional basic/bearer auth and TLS. */
export async function startHttpGitServer(opts: HttpGitServerOptions): Promise<HttpGitServer> {
  const authorizations: Array<string | undefined> = [];
  const children = new Set<ChildProcess>();
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    authorizations.push(req.headers.authorization);
    opts.onRequest?.();
    const user = authorize(req.headers.authorization, opts);
    if (user === undefined) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="kedge-test"' }).end('unauthorized\n');
      return;
    }
    const child = runHttpBackend(req, res, opts.root, user);
    children.add(child);
    child.once('exit', () => children.delete(child));
  };
  let caPem: string | undefined;
  let tlsDir: string | undefined;
  let server: Server;
  if (opts.tls) {
    tlsDir = mkdtempSync(join(tmpdir(), 'kedge-tls-'));
    const pki = generateTlsPki(tlsDir);
    caPem = pki.caPem;
    server = createHttpsServer({ key: pki.keyPem, cert: pki.certPem }, handler);
  } else {
    server = createHttpServer(handler);
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const scheme = opts.tls ? 'https' : 'http';
  const result: HttpGitServer = {
    authorizations,
    url: (name) => `${scheme}://127.0.0.1:${port}/${name}`,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([...children].map(killGroup));
      if (tlsDir) rmSync(tlsDir, { recursive: true, force: true });
    },
  };
  if (caPem) result.caPem = caPem;
  return result;
}

/** Returns the authenticated user ('' when no auth is configured) or undefined when refused. */
function authorize(header: string | undefined, opts: HttpGitServerOptions): string | undefined {
  if (!opts.basicAuth && !opts.bearerToken) return '';
  if (opts.bearerToken && header === `Bearer ${opts.bearerToken}`) return 'token';
  if (opts.basicAuth && header?.startsWith('Basic ')) {
    const [user, ...rest] = Buffer.from(header.slice(6), 'base64').toString().split(':');
    if (user === opts.basicAuth.username && rest.join(':') === opts.basicAuth.password) return user;
  }
  return undefined;
}

function runHttpBackend(req: IncomingMessage, res: ServerResponse, root: string, user: string): ChildProcess {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_PROJECT_ROOT: root,
    GIT_HTTP_EXPORT_ALL: '1',
    PATH_INFO: decodeURIComponent(url.pathname),
    QUERY_STRING: url.search.replace(/^\?/, ''),
    REQUEST_METHOD: req.method ?? 'GET',
    CONTENT_TYPE: req.headers['content-type'] ?? '',
    REMOTE_USER: user,
    REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
    GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
    HTTP_CONTENT_ENCODING: String(req.headers['content-encoding'] ?? ''),
  };
  if (req.headers['content-length']) env['CONTENT_LENGTH'] = req.headers['content-length'];
  const child = spawn('git', ['http-backend'], { env, detached: true, stdio: ['pipe', 'pipe', 'ignore'] });
  req.pipe(child.stdin);
  child.stdin.on('error', () => undefined);
  let head = Buffer.alloc(0);
  let headersDone = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (headersDone) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    headersDone = true;
    let status = 200;
    for (const line of head.subarray(0, end).toString().split('\r\n')) {
      const colon = line.indexOf(':');
      const key = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (key.toLowerCase() === 'status') status = Number.parseInt(value, 10);
      else res.setHeader(key, value);
    }
    res.writeHead(status);
    res.write(head.subarray(end + 4));
  });
  child.on('close', () => {
    if (!headersDone) res.writeHead(502);
    res.end();
  });
  return child;
}

/** A fresh CA and a certificate it signed for 127.0.0.1 and localhost, written into `dir` (openssl). */
export function generateTlsPki(dir: string): { caPem: string; keyPem: string; certPem: string } {
  const openssl = (...args: string[]): void =>
    void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  openssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '2',
    '-subj',
    '/CN=kedge test ca',
  );
  openssl(
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
    '-subj',
    '/CN=127.0.0.1',
  );
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.crt',
    '-days',
    '2',
    '-extfile',
    'ext.cnf',
  );
  const read = (file: string): string => readFileSync(join(dir, file), 'utf8');
  return { caPem: read('ca.crt'), keyPem: read('server.key'), certPem: read('server.crt') };
}

/** An sshd with key-only auth; clients get the user key, its known_hosts line and an encrypted copy. */
export interface SshGitServer extends GitServer {
  /** Private key (OpenSSH format, no passphrase) authorised to log in. */
  identity: string;
  /** The same authorised key, encrypted with `passphrase`. */
  encryptedIdentity: string;
  passphrase: string;
  /** known_hosts line for this server's host key. */
  knownHosts: string;
  /** known_hosts line for the same address with another key (a changed/unknown host key). */
  wrongKnownHosts: string;
}

/** `sshd` on a free port with a generated host key, accepting only generated user keys (for the current user). */
export async function startSshServer(root: string): Promise<SshGitServer> {
  const dir = mkdtempSync(join(tmpdir(), 'kedge-sshd-'));
  const keygen = (file: string, passphrase = ''): string => {
    execFileSync(
      'ssh-keygen',
      ['-q', '-t', 'ed25519', '-N', passphrase, '-C', 'kedge-test', '-f', join(dir, file)],
      { stdio: 'ignore' },
    );
    return readFileSync(join(dir, file), 'utf8');
  };
  const pub = (file: string): string => readFileSync(join(dir, `${file}.pub`), 'utf8').trim();
  keygen('host');
  keygen('other_host');
  const identity = keygen('user');
  const passphrase = 'correct horse battery staple';
  const encryptedIdentity = keygen('user_encrypted', passphrase);
  writeFileSync(join(dir, 'authorized_keys'), `${pub('user')}\n${pub('user_encrypted')}\n`);
  chmodSync(join(dir, 'authorized_keys'), 0o600);
  mkdirSync('/run/sshd', { recursive: true });
  const port = await freePort();
  const user = execFileSync('id', ['-un'], { encoding: 'utf8' }).trim();
  writeFileSync(
    join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'StrictModes no',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'PermitRootLogin prohibit-password',
      `AllowUsers ${user}`,
      'LogLevel ERROR',
    ].join('\n') + '\n',
  );
  const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], {
    detached: true,
    stdio: 'ignore',
  });
  const stop = async (): Promise<void> => {
    await killGroup(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, 'SSH-');
  } catch (error) {
    await stop();
    throw error;
  }
  const hostKeyOf = (file: string): string => pub(file).split(' ').slice(0, 2).join(' ');
  return {
    url: (name) => `ssh://${user}@127.0.0.1:${port}${join(root, name)}`,
    stop,
    identity,
    encryptedIdentity,
    passphrase,
    knownHosts: `[127.0.0.1]:${port} ${hostKeyOf('host')}`,
    wrongKnownHosts: `[127.0.0.1]:${port} ${hostKeyOf('other_host')}`,
  };
}

/** A client certificate (client.crt, client.key) signed by the CA that `generateTlsPki` left in `dir` (ca.crt, ca.key). */
export function generateClientCertificate(dir: string): { certPem: string; keyPem: string } {
  const openssl = (...args: string[]): void =>
    void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  openssl(
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'client.key',
    '-out',
    'client.csr',
    '-subj',
    '/CN=kedge test client',
  );
  writeFileSync(join(dir, 'client-ext.cnf'), 'extendedKeyUsage=clientAuth\n');
  openssl(
    'x509',
    '-req',
    '-in',
    'client.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'client.crt',
    '-days',
    '2',
    '-extfile',
    'client-ext.cnf',
  );
  return {
    certPem: readFileSync(join(dir, 'client.crt'), 'utf8'),
    keyPem: readFileSync(join(dir, 'client.key'), 'utf8'),
  };
}
