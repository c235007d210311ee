import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { freeLoopbackPort, isLoopbackPortOpen } from '../../src/devcluster/free-port.ts';

// The benchmarks' git servers. The test harness has its own (test/harness/git-servers.ts): it spawns through
// the test process registry, which needs a running vitest.

/** A git server on 127.0.0.1 serving the repositories `root/<name>`. */
export interface BenchGitServer {
  url(name: string): string;
  stop(): Promise<void>;
}

/** A smart-HTTP server (`git http-backend` as CGI behind node:http). Both Kedge and Flux fetch the benchmark repository from it (Flux accepts only http(s)/ssh). */
export async function startGitHttpServer(root: string): Promise<BenchGitServer> {
  const children = new Set<ChildProcess>();
  const server = createServer((req, res) => {
    const child = runHttpBackend(req, res, root);
    children.add(child);
    child.once('exit', () => children.delete(child));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: (name) => `http://127.0.0.1:${port}/${name}`,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

function runHttpBackend(req: IncomingMessage, res: ServerResponse, root: string): ChildProcess {
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
    REMOTE_USER: '',
    REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
    GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
    HTTP_CONTENT_ENCODING: String(req.headers['content-encoding'] ?? ''),
  };
  if (req.headers['content-length']) env['CONTENT_LENGTH'] = req.headers['content-length'];
  const child = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'ignore'] });
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

/** A `git daemon` serving every repository under `root` over git:// on 127.0.0.1, in its own process group. */
export async function startGitDaemon(root: string): Promise<BenchGitServer> {
  const port = await freeLoopbackPort();
  const child = spawn(
    'git',
    [
      'daemon',
      '--reuseaddr',
      '--export-all',
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
  const stop = (): Promise<void> => killGroup(child);
  try {
    const deadline = Date.now() + 30_000;
    while (!(await isLoopbackPortOpen(port))) {
      if (Date.now() > deadline) throw new Error(`git daemon did not listen on port ${port} within 30 s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: (name) => `git://127.0.0.1:${port}/${name}`, stop };
}

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
