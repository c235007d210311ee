import { createSign } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tunnelingAgent } from '../tunneling-agent.ts';

/** A GitRepository Secret's GitHub App data, under Flux's keys. */
export interface GitHubAppData {
  appId: string;
  installationId?: string;
  installationOwner?: string;
  privateKeyPem: string;
  /** `githubAppBaseURL`: the API of a GitHub Enterprise Server. Default https://api.github.com. */
  baseUrl?: string;
}

/** The user name GitHub takes with an installation token (Flux's `x-access-token`). */
export const ACCESS_TOKEN_USERNAME = 'x-access-token';

/** A problem with the App data or with GitHub's answer, described for a person. */
export class GitHubAppError extends Error {
  constructor(
    message: string,
    readonly invalidConfiguration = false,
  ) {
    super(message);
    this.name = 'GitHubAppError';
  }
}

/** The App data of a Secret, when it has any (`githubAppID`); refused when incomplete, as Flux's client does. */
export function gitHubAppData(secret: Record<string, string>): GitHubAppData | undefined {
  const appId = secret.githubAppID?.trim();
  if (!appId) return undefined;
  const installationId = secret.githubAppInstallationID?.trim() || undefined;
  const installationOwner = secret.githubAppInstallationOwner?.trim() || undefined;
  const privateKeyPem = secret.githubAppPrivateKey;
  if (!/^\d+$/.test(appId)) throw new GitHubAppError(`githubAppID must be a number, not '${appId}'`, true);
  if (!installationId && !installationOwner)
    throw new GitHubAppError(
      'app installation owner or ID must be provided to use github app authentication',
      true,
    );
  if (installationId && installationOwner)
    throw new GitHubAppError(
      'only one of app installation owner or ID must be provided to use github app authentication',
      true,
    );
  if (!privateKeyPem)
    throw new GitHubAppError('githubAppPrivateKey must be provided to use github app authentication', true);
  return {
    appId,
    installationId,
    installationOwner,
    privateKeyPem,
    baseUrl: secret.githubAppBaseURL?.trim() || undefined,
  };
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

/** Installation tokens live an hour; one is reused until ten minutes before it expires. */
const REUSE_MARGIN_MS = 10 * 60_000;
const tokens = new Map<string, CachedToken>();

export interface GitHubAppRequestOptions {
  /** PEM CA bundle for the API (the Secret's `ca.crt`). */
  caPem?: string;
  proxyUrl?: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

/**
 * An installation access token for the App, as Flux's GitHub App client gets it: a JWT signed with the App's
 * key (RS256, issued 30 s in the past, valid 2 minutes), the installation found by owner (organization, then
 * user) when no ID is given, then `POST app/installations/<id>/access_tokens`. Tokens are cached per App,
 * installation and API.
 */
export async function gitHubAppToken(app: GitHubAppData, options: GitHubAppRequestOptions): Promise<string> {
  const api = apiBase(app.baseUrl);
  const key = `${api}|${app.appId}|${app.installationId ?? `owner:${app.installationOwner}`}`;
  const cached = tokens.get(key);
  if (cached && cached.expiresAt - REUSE_MARGIN_MS > Date.now()) return cached.token;

  const jwt = appJwt(app);
  const call = (method: string, path: string) => requestJson(method, new URL(path, api), jwt, options);
  let installationId = app.installationId;
  if (!installationId) {
    const owner = encodeURIComponent(app.installationOwner!);
    const org = await call('GET', `orgs/${owner}/installation`);
    const found = org.status === 200 ? org : await call('GET', `users/${owner}/installation`);
    if (found.status !== 200)
      throw new GitHubAppError(
        `failed to find the installation of GitHub App ${app.appId} for owner '${app.installationOwner}': ${describe(found)}`,
      );
    const id = (found.body as { id?: unknown }).id;
    if (typeof id !== 'number' && typeof id !== 'string')
      throw new GitHubAppError(`GitHub's answer for the installation of owner '${app.installationOwner}' has no id`);
    installationId = String(id);
  }
  const created = await call('POST', `app/installations/${encodeURIComponent(installationId)}/access_tokens`);
  const body = created.body as { token?: unknown; expires_at?: unknown };
  if (created.status !== 201 || typeof body.token !== 'string')
    throw new GitHubAppError(
      `failed to create an access token for GitHub App ${app.appId}, installation ${installationId}: ${describe(created)}`,
    );
  const expiresAt =
    typeof body.expires_at === 'string' ? Date.parse(body.expires_at) : Date.now() + 3_600_000;
  tokens.set(key, { token: body.token, expiresAt });
  return body.token;
}

/** Flux's API base: api.github.com and `api.`/`/api/v3/` URLs as given, else an Enterprise host's `/api/v3/`. */
export function apiBase(baseUrl: string | undefined): string {
  const url = new URL(
    baseUrl ? (baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`) : 'https://api.github.com/',
  );
  const apiHost = url.host.startsWith('api.') || url.host.includes('.api.');
  if (!apiHost && !url.pathname.endsWith('/api/v3/'))
    url.pathname = `${url.pathname.replace(/\/$/, '')}/api/v3/`;
  return url.toString();
}

function appJwt(app: GitHubAppData): string {
  const iat = Math.floor(Date.now() / 1000) - 30;
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${encode({ alg: 'RS256', typ: 'JWT' })}.${encode({ iss: app.appId, exp: iat + 120, iat })}`;
  let signature: string;
  try {
    signature = createSign('RSA-SHA256').update(unsigned).sign(app.privateKeyPem, 'base64url');
  } catch (error) {
    throw new GitHubAppError(
      `githubAppPrivateKey is not a usable RSA private key: ${(error as Error).message}`,
      true,
    );
  }
  return `${unsigned}.${signature}`;
}

interface JsonAnswer {
  status: number;
  body: unknown;
}

function describe(answer: JsonAnswer): string {
  const message = (answer.body as { message?: unknown } | undefined)?.message;
  return `status ${answer.status}${typeof message === 'string' ? ` (${message})` : ''}`;
}

async function requestJson(
  method: string,
  url: URL,
  jwt: string,
  options: GitHubAppRequestOptions,
): Promise<JsonAnswer> {
  const secure = url.protocol === 'https:';
  const agent = tunnelingAgent({ secure, ca: options.caPem, proxyUrl: options.proxyUrl });
  const signal = AbortSignal.any([
    AbortSignal.timeout(options.timeoutMs),
    ...(options.signal ? [options.signal] : []),
  ]);
  try {
    return await new Promise<JsonAnswer>((resolve, reject) => {
      const req = (secure ? httpsRequest : httpRequest)(
        url,
        {
          method,
          agent,
          signal,
          headers: {
            accept: 'application/vnd.github+json',
            authorization: `Bearer ${jwt}`,
            'user-agent': 'kedge',
            'x-github-api-version': '2022-11-28',
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let body: unknown = {};
            try {
              body = text ? JSON.parse(text) : {};
            } catch {
              body = { message: text.slice(0, 200) };
            }
            resolve({ status: res.statusCode ?? 0, body });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end();
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new GitHubAppError(`GitHub API ${url.host} unreachable: ${code}`);
  } finally {
    agent.destroy();
  }
}
