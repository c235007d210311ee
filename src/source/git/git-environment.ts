import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import type { GitCredentials } from './git-credentials.ts';
import { GitError } from './git-error.ts';
import { gitTransport } from './git-url.ts';

/** A private environment for git processes; `dispose()` removes its temporary files. */
export interface GitEnvironment {
  env: NodeJS.ProcessEnv;
  dispose(): Promise<void>;
}

/** Git credential helper: answers `get` for the remote's origin only, from the environment. */
const CREDENTIAL_HELPER = `#!/bin/sh
test "$1" = get || exit 0
while IFS='=' read -r key value; do
  case "$key" in protocol) protocol=$value ;; host) host=$value ;; esac
done
case "$protocol://$host" in
  "$KEDGE_GIT_ORIGIN" | "$KEDGE_GIT_ORIGIN_PORT") printf 'username=%s\\npassword=%s\\n' "$KEDGE_GIT_USERNAME" "$KEDGE_GIT_PASSWORD" ;;
esac
`;
const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const INHERITED = [
  'PATH',
  'LANG',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'all_proxy',
  'ALL_PROXY',
];

/**
 * Builds the environment for git: no system or global config, no prompts, a throwaway HOME, and the
 * credentials passed as env-only config (`GIT_CONFIG_COUNT`) or 0600 files in a private temp dir, so
 * that no secret appears in process arguments. The HTTP Authorization header is scoped to the remote's
 * origin, so a redirect to another host does not receive it. SSH never accepts unknown or changed host keys.
 */
export async function gitEnvironment(
  url: string,
  creds: GitCredentials,
  extraConfig: Record<string, string> = {},
  tmpRoot: string = tmpdir(),
): Promise<GitEnvironment> {
  const home = await mkdtemp(join(tmpRoot, 'kedge-git-'));
  const dispose = (): Promise<void> => rm(home, { recursive: true, force: true });
  try {
    const env: NodeJS.ProcessEnv = {};
    for (const key of INHERITED) if (process.env[key] !== undefined) env[key] = process.env[key];
    Object.assign(env, {
      HOME: home,
      XDG_CONFIG_HOME: home,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_TERMINAL_PROMPT: '0',
      GIT_ASKPASS: '/bin/false',
      SSH_ASKPASS: '/bin/false',
      LC_ALL: 'C',
    });
    const config: Record<string, string> = { 'credential.helper': '', ...extraConfig };
    const transport = gitTransport(url);
    if (transport === 'http') await addHttpAuth(new URL(url), creds, home, env, config);
    if (transport === 'ssh') env['GIT_SSH_COMMAND'] = await sshCommand(creds, home);
    const entries = Object.entries(config);
    env['GIT_CONFIG_COUNT'] = String(entries.length);
    entries.forEach(([key, value], i) => {
      env[`GIT_CONFIG_KEY_${i}`] = key;
      env[`GIT_CONFIG_VALUE_${i}`] = value;
    });
    return { env, dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/**
 * Basic auth goes through a credential helper that answers only for the remote's own origin, so a
 * redirect to another host never receives the password. Bearer tokens (which git 2.39's helpers cannot
 * carry) go in an Authorization header scoped to the remote; git keeps sending that header after an
 * initial redirect, so a bearer-token remote must not redirect to an untrusted host.
 */
async function addHttpAuth(
  remote: URL,
  creds: GitCredentials,
  home: string,
  env: NodeJS.ProcessEnv,
  config: Record<string, string>,
): Promise<void> {
  if (creds.bearerToken) {
    config[`http.${remote.origin}/.extraHeader`] = `Authorization: Bearer ${creds.bearerToken}`;
  } else if (creds.username || creds.password) {
    const helper = join(home, 'credential-helper.sh');
    await writeFile(helper, CREDENTIAL_HELPER, { mode: 0o700 });
    const scheme = remote.protocol.replace(/:$/, '');
    const defaultPort = scheme === 'https' ? '443' : '80';
    Object.assign(env, {
      KEDGE_GIT_ORIGIN: `${scheme}://${remote.host}`,
      KEDGE_GIT_ORIGIN_PORT: `${scheme}://${remote.hostname}:${remote.port || defaultPort}`,
      KEDGE_GIT_USERNAME: creds.username ?? '',
      KEDGE_GIT_PASSWORD: creds.password ?? '',
    });
    config['credential.helper'] = helper;
  }
  if (creds.caPem) {
    const system = await readFile(SYSTEM_CA_BUNDLE, 'utf8').catch(() => '');
    const caFile = join(home, 'ca.pem');
    await writeFile(caFile, `${creds.caPem.trim()}\n${system}`, { mode: 0o600 });
    config['http.sslCAInfo'] = caFile;
  }
}

async function sshCommand(creds: GitCredentials, home: string): Promise<string> {
  const knownHosts = join(home, 'known_hosts');
  await writeFile(knownHosts, creds.sshKnownHosts ? `${creds.sshKnownHosts.trim()}\n` : '', { mode: 0o600 });
  const options = [
    '-F /dev/null',
    '-o BatchMode=yes',
    '-o StrictHostKeyChecking=yes',
    `-o UserKnownHostsFile=${knownHosts}`,
    '-o GlobalKnownHostsFile=/dev/null',
    '-o PasswordAuthentication=no',
    '-o KbdInteractiveAuthentication=no',
  ];
  if (creds.sshIdentity) {
    const identity = join(home, 'identity');
    await writeFile(identity, `${creds.sshIdentity.trim()}\n`, { mode: 0o600 });
    if (creds.sshPassphrase) await decryptIdentity(identity, creds.sshPassphrase, home);
    options.push(`-i ${identity}`, '-o IdentitiesOnly=yes');
  }
  return `ssh ${options.join(' ')}`;
}

/**
 * Removes the passphrase from the temp copy of the key so that ssh can run in batch mode. The passphrase
 * reaches ssh-keygen through an askpass script reading the environment, never through arguments.
 */
async function decryptIdentity(identity: string, passphrase: string, home: string): Promise<void> {
  const askpass = join(home, 'askpass.sh');
  await writeFile(askpass, '#!/bin/sh\nprintf "%s\\n" "$KEDGE_SSH_PASSPHRASE"\n', { mode: 0o700 });
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn('ssh-keygen', ['-p', '-q', '-N', '', '-f', identity], {
      stdio: 'ignore',
      detached: true,
      env: {
        PATH: process.env['PATH'],
        HOME: home,
        SSH_ASKPASS: askpass,
        SSH_ASKPASS_REQUIRE: 'force',
        DISPLAY: 'none',
        KEDGE_SSH_PASSPHRASE: passphrase,
      },
    });
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0)
    throw new GitError('auth', 'cannot decrypt the ssh identity: wrong passphrase or malformed key');
}
