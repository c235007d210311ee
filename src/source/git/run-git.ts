import { spawn } from 'node:child_process';
import { GitError, type GitErrorCode } from './git-error.ts';
import { scrubMessage } from './git-url.ts';

/** How to run one git command. */
export interface RunGitOptions {
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** Absolute time (ms since epoch) after which the command and its children are killed. */
  deadline: number;
  signal?: AbortSignal | undefined;
  /** Fed to git's standard input. */
  input?: string;
  /** Secret values scrubbed from any error message. */
  secrets: readonly string[];
  /** What the command does, for messages: `fetch 'main' from 'https://host/repo'` (already scrubbed). */
  what: string;
}

/** Output of a successful git command. */
export interface GitOutput {
  stdout: string;
  stderr: string;
}

const MAX_OUTPUT = 16 * 1024 * 1024;

/**
 * Runs `git <args>` in its own process group. On timeout or abort the whole group (git and its ssh or
 * remote-helper children) is killed and GitError 'timeout' is thrown; a non-zero exit throws a GitError
 * classified from git's stderr, with URLs and secrets scrubbed.
 */
export function runGit(args: readonly string[], opts: RunGitOptions): Promise<GitOutput> {
  return new Promise((resolve, reject) => {
    const remaining = opts.deadline - Date.now();
    if (remaining <= 0 || opts.signal?.aborted) {
      reject(new GitError('timeout', `${opts.what}: ${opts.signal?.aborted ? 'aborted' : 'timed out'}`));
      return;
    }
    const child = spawn('git', args, {
      cwd: opts.cwd,
      env: opts.env,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let stopped: 'timed out' | 'aborted' | undefined;
    const kill = (why: 'timed out' | 'aborted'): void => {
      stopped ??= why;
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // the group is already gone
        }
      }
    };
    const timer = setTimeout(() => kill('timed out'), remaining);
    const onAbort = (): void => kill('aborted');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (stdout.length < MAX_OUTPUT) stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      if (stderr.length < MAX_OUTPUT) stderr += chunk;
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
    child.on('error', (error) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      reject(new GitError('failed', `${opts.what}: cannot run git: ${error.message}`, { cause: error }));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (stopped) reject(new GitError('timeout', `${opts.what}: ${stopped}`));
      else if (code === 0) resolve({ stdout, stderr });
      else reject(gitFailure(opts.what, stderr, opts.secrets));
    });
  });
}

const CLASSIFIERS: ReadonlyArray<[GitErrorCode, RegExp]> = [
  [
    'auth',
    /authentication failed|could not read username|could not read password|terminal prompts disabled|permission denied \(|host key verification failed|http basic: access denied|returned error: 40[13]|no more authentication methods/i,
  ],
  [
    'not-found',
    /couldn't find remote ref|repository not found|repository '[^']*' not found|does not appear to be a git repository|not our ref|no such remote ref|returned error: 404|no such repository|not a git repository|upload-pack: not our ref|remote error: .*(not found|not exported|access denied)/i,
  ],
  [
    'unreachable',
    /could not resolve host|connection refused|connection timed out|network is unreachable|couldn't connect|failed to connect|could not read from remote repository|ssl certificate problem|server certificate verification failed|unable to access|connection reset|unable to look up/i,
  ],
];

/** Builds the GitError for a failed command from its stderr. */
export function gitFailure(what: string, stderr: string, secrets: readonly string[]): GitError {
  const code = CLASSIFIERS.find(([, pattern]) => pattern.test(stderr))?.[0] ?? 'failed';
  const detail = stderr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('hint:'))
    .slice(-3)
    .join('; ');
  const message = `${what}: ${detail || 'git exited with an error'}`;
  return new GitError(code, scrubMessage(message.charAt(0).toLowerCase() + message.slice(1), secrets));
}
