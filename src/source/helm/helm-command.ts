import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { locateHelm } from '../../helm/helm-binary.ts';

/** helm exited non-zero; `message` is its last error line, which never holds the credentials we gave it. */
export class HelmCommandError extends Error {
  override readonly name = 'HelmCommandError';
}

/**
 * A private helm home (config, cache, data, registry config) in a scratch dir: each chart build sees only the
 * repositories and registry credentials it was given, never the user's or another object's. Files holding
 * secrets (CA, client keys, registry auth) live inside it and go with it on `dispose()`.
 */
export class HelmHome {
  private constructor(readonly dir: string) {}

  static async create(parent: string): Promise<HelmHome> {
    const dir = await mkdtemp(join(parent, 'kedge-helm-'));
    await mkdir(join(dir, 'config'), { recursive: true });
    return new HelmHome(dir);
  }

  /** Writes `content` (mode 0600) under the home and returns its path. */
  async writeFile(name: string, content: string): Promise<string> {
    const file = join(this.dir, name);
    await writeFile(file, content, { mode: 0o600 });
    return file;
  }

  /** Docker-config credentials helm's registry client uses for `host` (no password on helm's command line). */
  async setRegistryAuth(host: string, username: string, password: string): Promise<void> {
    const auth = Buffer.from(`${username}:${password}`).toString('base64');
    await this.writeFile('registry.json', JSON.stringify({ auths: { [host]: { auth } } }));
  }

  /** Runs helm; resolves its stdout, rejects with a HelmCommandError carrying its error line. */
  async run(args: string[], options: { signal: AbortSignal; cwd?: string; stdin?: string }): Promise<string> {
    const helm = await locateHelm();
    const env = {
      PATH: process.env['PATH'] ?? '',
      HOME: this.dir,
      HELM_CONFIG_HOME: join(this.dir, 'config'),
      HELM_CACHE_HOME: join(this.dir, 'cache'),
      HELM_DATA_HOME: join(this.dir, 'data'),
      HELM_REGISTRY_CONFIG: join(this.dir, 'registry.json'),
      HELM_REPOSITORY_CONFIG: join(this.dir, 'config', 'repositories.yaml'),
      HELM_REPOSITORY_CACHE: join(this.dir, 'cache', 'repository'),
      ...(process.env['SSL_CERT_FILE'] ? { SSL_CERT_FILE: process.env['SSL_CERT_FILE'] } : {}),
    };
    return new Promise((resolve, reject) => {
      const child = execFile(
        helm.file,
        args,
        { env, cwd: options.cwd, signal: options.signal, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 },
        (error, stdout, stderr) => {
          if (!error) return resolve(stdout);
          if (options.signal.aborted) return reject(new Error('helm was cancelled', { cause: error }));
          const line =
            stderr
              .split('\n')
              .map((l) => l.trim())
              .filter((l) => l && !/^(WARNING|level=WARN)/.test(l))
              .at(-1) ?? error.message;
          reject(new HelmCommandError(line.replace(/^Error: /, '')));
        },
      );
      if (options.stdin !== undefined) child.stdin?.end(options.stdin);
    });
  }

  async dispose(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
