import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DecryptionError } from './decryption-error.ts';
import { locateSops } from './sops-binary.ts';
import type { SopsFormat } from './sops-format.ts';
import type { SopsKeys } from './sops-keys.ts';

/** A decryption that takes longer is stopped (a key asking for a passphrase, a KMS that does not answer). */
const DECRYPT_TIMEOUT_MS = 60_000;
/** A closed loopback port: sops's HTTP and gRPC clients are pointed at it, so no KMS or metadata call leaves. */
const NO_NETWORK_PROXY = 'http://127.0.0.1:9';

/**
 * One render's decryptions with sops. `open` makes a private temp dir (mode 0700) holding a GnuPG home with the
 * OpenPGP keys imported and an empty sops config; age keys go in `SOPS_AGE_KEY`. Each `decrypt` runs
 * `sops decrypt` with the ciphertext on stdin and the plaintext on stdout, so neither touches the disk; sops
 * runs in that dir with an environment of its own (no inherited credentials, HOME and config there, no
 * `.sops.yaml` of the repository or the host, HTTP(S) proxies pointing at a closed port, so a file naming a
 * cloud KMS or Vault key makes no request leave the host). `close` stops the GnuPG agent and removes the dir.
 */
export class SopsSession {
  private constructor(
    private readonly sops: string,
    private readonly dir: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  static async open(keys: SopsKeys, tmpRoot: string = tmpdir()): Promise<SopsSession> {
    const sops = await locateSops();
    const dir = await mkdtemp(path.join(tmpRoot, 'kedge-sops-'));
    const gnupg = path.join(dir, 'gnupg');
    const env: NodeJS.ProcessEnv = {
      PATH: process.env['PATH'],
      HOME: dir,
      XDG_CONFIG_HOME: dir,
      GNUPGHOME: gnupg,
      SOPS_CONFIG: path.join(dir, 'sops.yaml'),
      SOPS_DISABLE_VERSION_CHECK: '1',
      AWS_EC2_METADATA_DISABLED: 'true',
      HTTP_PROXY: NO_NETWORK_PROXY,
      HTTPS_PROXY: NO_NETWORK_PROXY,
      http_proxy: NO_NETWORK_PROXY,
      https_proxy: NO_NETWORK_PROXY,
      LC_ALL: 'C',
    };
    if (keys.age.length > 0) env['SOPS_AGE_KEY'] = keys.age.map((k) => k.value.trim()).join('\n');
    const session = new SopsSession(sops.file, dir, env);
    try {
      await mkdir(gnupg, { mode: 0o700 });
      // A key with a passphrase fails at once instead of waiting for a pinentry nobody answers.
      await writeFile(path.join(gnupg, 'gpg-agent.conf'), 'pinentry-program /bin/false\n', { mode: 0o600 });
      await writeFile(path.join(dir, 'sops.yaml'), 'creation_rules: []\n', { mode: 0o600 });
      for (const key of keys.pgp) {
        const imported = await run(
          'gpg',
          ['--batch', '--quiet', '--import'],
          env,
          dir,
          Buffer.from(key.value),
        ).catch((error: unknown) => {
          const why = (error as NodeJS.ErrnoException).code ?? String(error);
          throw new DecryptionError(
            `cannot import '${key.name}' from ${keys.source}: gpg does not run (${why}); install GnuPG`,
          );
        });
        if (imported.code !== 0) {
          throw new DecryptionError(
            `failed to import '${key.name}' data from ${keys.source}: not an armored OpenPGP private key`,
          );
        }
      }
    } catch (error) {
      await session.close();
      throw error;
    }
    return session;
  }

  /**
   * Decrypts `data` (a sops document of `input` format) into `output` format, ignoring the MAC as Flux does (an
   * overlay's namespace, labels or prefix change the values it covers); each value's AES-GCM tag still refuses
   * tampered ciphertext. Throws `DecryptionError` naming `what`, with sops's reason (secret values redacted).
   */
  async decrypt(data: Buffer, input: SopsFormat, output: SopsFormat, what: string): Promise<Buffer> {
    const args = ['decrypt', '--input-type', input, '--output-type', output, '--ignore-mac'];
    const result = await run(this.sops, args, this.env, this.dir, data, DECRYPT_TIMEOUT_MS);
    if (result.code === 0) return result.stdout;
    throw new DecryptionError(`failed to decrypt ${what}: ${sopsReason(result, this.dir)}`);
  }

  /** Stops the GnuPG agent of this home, if one started, and removes the private dir. */
  async close(): Promise<void> {
    await run('gpgconf', ['--kill', 'all'], this.env, this.dir).catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }
}

interface Outcome {
  code: number | null;
  stdout: Buffer;
  stderr: string;
  timedOut: boolean;
}

function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
  input?: Buffer,
  timeoutMs = DECRYPT_TIMEOUT_MS,
): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? Buffer.alloc(0));
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr, timedOut });
    });
  });
}

/**
 * sops's own words on one line, with what could carry a value redacted (Flux's "Input string … does not match
 * sops' data format" case, anything in `ENC[…]`) and what only adds noise left out: the places it looked for
 * keys and its paragraph on recovery. Paths in the private dir are shown as `<sops home>/…`.
 */
function sopsReason(result: Outcome, home: string): string {
  if (result.timedOut)
    return `sops did not finish within ${DECRYPT_TIMEOUT_MS / 1000}s (a key with a passphrase?)`;
  const text = result.stderr
    .split(home)
    .join('<sops home>')
    .replace(
      /Input string .*? does not match sops' data format/gs,
      "Input string <redacted> does not match sops' data format",
    )
    .replace(/ENC\[[^\]]*\]/g, 'ENC[<redacted>]')
    .replace(/^(\s*-)?\s*\| /gm, '$1 ')
    .replace(/\s+/g, ' ')
    .replace(/ ?Did not find keys in locations .*?\.(?= |$)/g, '')
    .replace(/ ?Recovery failed because no master key was able to decrypt the file\..*$/, '')
    .trim();
  return text.length > 600 ? `${text.slice(0, 600)}…` : text || `sops exited with code ${result.code}`;
}
