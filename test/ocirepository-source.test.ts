import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Condition, KObject } from '../src/api/meta.ts';
import { createLogger } from '../src/runtime/logger.ts';
import { measureStartMs, startsBudgetMs } from './harness/budget.ts';
import { eventually } from './harness/eventually.ts';
import { KEDGE_CLI } from './harness/kedge-cli.ts';
import { FluxContentMediaType, startOciRegistry, type OciRegistry } from './harness/oci-registry.ts';
import { startTestEngine, type TestEngine } from './harness/test-engine.ts';
import { startEndpoint } from './notify-endpoint.ts';
import { execFileTracked, runTracked } from './harness/tracked-process.ts';

/*
 * OCIRepository against a real CNCF distribution registry on 127.0.0.1: artifacts published with `kedge push
 * artifact` (as CI would) become Flux revisions that a Kustomization applies; tags that move, semver ranges,
 * digest pins, layer selection, credentials and TLS, and every way pulling can fail.
 */

let registry: OciRegistry;
/** One CLI start, measured when this file starts: the tests that run `kedge` budget so many starts. */
const cliStartMs = await measureStartMs([...KEDGE_CLI, '--version']);
const scratch = mkdtempSync(join(tmpdir(), 'kedge-oci-test-'));
beforeAll(async () => {
  registry = await startOciRegistry();
}, 600_000);
afterAll(async () => {
  await registry?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

const configMap = (name: string, value: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: default\ndata:\n  value: "${value}"\n`;

/** A directory of files, as a CI checkout would have them. */
function checkout(files: Record<string, string>): string {
  const root = mkdtempSync(join(scratch, 'checkout-'));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}

/** The app's files: a ConfigMap with `value` under apps/. */
const appFiles = (name: string, value: string) => ({
  'apps/kustomization.yaml': 'resources: [config.yaml]\n',
  'apps/config.yaml': configMap(name, value),
});

/** `kedge push artifact` from the sources; returns the digest it printed. */
async function kedgePush(url: string, path: string, extra: string[] = []): Promise<string> {
  const { stdout } = await execFileTracked(
    process.execPath,
    [...KEDGE_CLI, 'push', 'artifact', url, '--path', path, ...extra],
    { env: { ...process.env, NO_COLOR: '1' }, timeoutMs: startsBudgetMs(1, cliStartMs, 30_000) },
  );
  const digest = /artifact successfully pushed to \S+@(sha256:[0-9a-f]{64})/.exec(stdout)?.[1];
  if (!digest) throw new Error(`no digest in the output of kedge push artifact:\n${stdout}`);
  return digest;
}

function sources(
  name: string,
  opts: { url?: string; ref?: string; extra?: string; path?: string } = {},
): string {
  return `
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: ${name}, namespace: default}
spec:
  interval: 1s
  url: ${opts.url ?? registry.url(`apps/${name}`)}
  insecure: true
${opts.ref ? `  ref: ${opts.ref}\n` : ''}${opts.extra ?? ''}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: ${name}, namespace: default}
spec:
  interval: 10m
  sourceRef: {kind: OCIRepository, name: ${name}}
  path: ${opts.path ?? './apps'}
  prune: true
`;
}

const ready = (object: KObject | undefined): Condition | undefined =>
  (object?.status as { conditions?: Condition[] } | undefined)?.conditions?.find((c) => c.type === 'Ready');
type OciStatus = {
  artifact?: { revision: string; digest: string; url: string; metadata?: Record<string, string> };
  url?: string;
  observedLayerSelector?: unknown;
};
const statusOf = (object: KObject | undefined) => (object?.status ?? {}) as OciStatus;
const oci = (name: string) => ({ kind: 'OCIRepository', namespace: 'default', name });
const ks = (name: string) => ({ kind: 'Kustomization', namespace: 'default', name });

async function withEngine<T>(fn: (t: TestEngine, logs: () => string) => Promise<T>): Promise<T> {
  const captured: Buffer[] = [];
  const destination = new PassThrough();
  destination.on('data', (chunk: Buffer) => captured.push(chunk));
  const t = await startTestEngine({ log: createLogger({ level: 'debug', format: 'json', destination }) });
  try {
    return await fn(t, () => Buffer.concat(captured).toString('utf8'));
  } finally {
    await t.stop();
  }
}

async function configMapValue(t: TestEngine, name: string): Promise<unknown> {
  return (
    (await t.get({ kind: 'ConfigMap', namespace: 'default', name })) as
      { data?: { value?: string } } | undefined
  )?.data?.value;
}

/** Successful pulls so far, from the engine's metrics. */
async function pulls(t: TestEngine): Promise<number> {
  const text = await (await fetch(`${t.engine.metricsUrl}/metrics`)).text();
  return Number(
    /kedge_oci_fetch_duration_seconds_count\{operation="pull",result="success"\} (\d+)/.exec(text)?.[1] ?? 0,
  );
}
async function resolves(t: TestEngine): Promise<number> {
  const text = await (await fetch(`${t.engine.metricsUrl}/metrics`)).text();
  return Number(
    /kedge_oci_fetch_duration_seconds_count\{operation="resolve",result="success"\} (\d+)/.exec(text)?.[1] ??
      0,
  );
}

describe('OCIRepository (real registry)', () => {
  it(
    'turns a `kedge push artifact` into a revision a Kustomization applies, follows a moved tag, and pulls nothing while it stays',
    async () => {
      const url = `${registry.url('apps/pushed')}:v1`;
      const first = await kedgePush(url, checkout(appFiles('pushed', 'one')), [
        '--source',
        'https://git.example.com/org/app.git',
        '--revision',
        'main@sha1:1111111111111111111111111111111111111111',
      ]);
      await withEngine(async (t) => {
        await t.apply(sources('pushed', { ref: '{tag: v1}' }));
        const source = await t.waitForReady(oci('pushed'));
        expect(statusOf(source).artifact?.revision).toBe(`v1@${first}`);
        expect(ready(source)?.message).toBe(`stored artifact for digest 'v1@${first}'`);
        expect(statusOf(source).artifact?.metadata).toMatchObject({
          'org.opencontainers.image.source': 'https://git.example.com/org/app.git',
          'org.opencontainers.image.revision': 'main@sha1:1111111111111111111111111111111111111111',
        });
        // The stored artifact is what the artifact server serves, digest and all.
        const body = Buffer.from(await (await fetch(statusOf(source).artifact!.url)).arrayBuffer());
        expect(`sha256:${createHash('sha256').update(body).digest('hex')}`).toBe(
          statusOf(source).artifact!.digest,
        );

        const applied = await t.waitForReady(ks('pushed'));
        expect(ready(applied)?.message).toBe(`Applied revision: v1@${first}`);
        expect(await configMapValue(t, 'pushed')).toBe('one');
        const events = await t.engine.store.listEvents(oci('pushed'));
        expect(events.map((e) => e.message)).toContain(
          `stored artifact with revision 'v1@${first}' from '${registry.url('apps/pushed')}', origin source 'https://git.example.com/org/app.git', origin revision 'main@sha1:1111111111111111111111111111111111111111'`,
        );

        // Checks at the 1 s interval HEAD the manifest; nothing is pulled while the digest stays.
        const before = { pulls: await pulls(t), resolves: await resolves(t) };
        await eventually(async () => expect(await resolves(t)).toBeGreaterThanOrEqual(before.resolves + 2), {
          what: 'two more manifest checks',
        });
        expect(await pulls(t)).toBe(before.pulls);

        // The tag moves: the new revision is pulled and applied.
        const second = await kedgePush(url, checkout(appFiles('pushed', 'two')));
        expect(second).not.toBe(first);
        await eventually(async () => expect(await configMapValue(t, 'pushed')).toBe('two'), {
          what: 'the ConfigMap to follow the moved tag',
          timeoutMs: 30_000,
        });
        const moved = await t.waitForReady(
          ks('pushed'),
          (r) => r.message === `Applied revision: v1@${second}`,
        );
        expect(ready(moved)?.status).toBe('True');
      });
    },
    startsBudgetMs(2, cliStartMs, 60_000),
  );

  it('picks the highest tag in a semver range (with a filter) and pins a digest', async () => {
    const repo = 'apps/versions';
    const pushed: Record<string, string> = {};
    for (const [tag, value] of [
      ['1.0.0', 'a'],
      ['1.2.0', 'b'],
      ['1.10.0', 'c'],
      ['2.0.0', 'd'],
      ['1.11.0-rc.1', 'e'],
    ] as const)
      pushed[tag] = (await registry.pushArtifact(repo, tag, appFiles(`semver`, value))).digest;
    await registry.pushArtifact(repo, 'latest', appFiles('semver', 'latest'));
    await withEngine(async (t) => {
      await t.apply(sources('semver', { url: registry.url(repo), ref: '{semver: ">=1.0.0 <2.0.0"}' }));
      const source = await t.waitForReady(oci('semver'));
      expect(statusOf(source).artifact?.revision).toBe(`1.10.0@${pushed['1.10.0']}`);
      await t.waitForReady(ks('semver'));
      expect(await configMapValue(t, 'semver')).toBe('c');

      await t.apply(
        sources('filtered', {
          url: registry.url(repo),
          ref: `{semver: "1.x", semverFilter: "^1\\\\.[0-2]\\\\."}`,
        }),
      );
      const filtered = await t.waitForReady(oci('filtered'));
      expect(statusOf(filtered).artifact?.revision).toBe(`1.2.0@${pushed['1.2.0']}`);

      // digest > semver > tag: a digest pin wins over the rest of ref.
      await t.apply(
        sources('pinned', {
          url: registry.url(repo),
          ref: `{digest: "${pushed['1.0.0']}", semver: "*", tag: latest}`,
        }),
      );
      const pinned = await t.waitForReady(oci('pinned'));
      expect(statusOf(pinned).artifact?.revision).toBe(pushed['1.0.0']);

      // No ref: the tag `latest`.
      await t.apply(sources('unref', { url: registry.url(repo) }));
      const unref = await t.waitForReady(oci('unref'));
      expect(statusOf(unref).artifact?.revision).toMatch(/^latest@sha256:/);

      await t.apply(sources('nomatch', { url: registry.url(repo), ref: '{semver: ">=3.0.0"}' }));
      const nomatch = await t.waitForReady(oci('nomatch'), (r) => r.status === 'False');
      expect(ready(nomatch)?.reason).toBe('ReadOperationFailed');
      expect(ready(nomatch)?.message).toContain('no match found for semver: >=3.0.0');
    });
  });

  it('selects a layer by media type, and copies it as it is or extracts it', async () => {
    const tarGz = (files: Record<string, string>) => {
      const dir = checkout(files);
      return gzipSync(execFileSync('tar', ['-C', dir, '--sort=name', '-cf', '-', '.']));
    };
    const docs = tarGz({ 'README.md': '# docs only\n' });
    const manifests = tarGz(appFiles('layered', 'from-second-layer'));
    const customType = 'application/vnd.example.manifests.v1.tar+gzip';
    const pushed = await registry.pushManifest('apps/layered', 'v1', [
      { mediaType: FluxContentMediaType, content: docs },
      { mediaType: customType, content: manifests },
    ]);
    await withEngine(async (t) => {
      // extract (the default operation): the second layer's files, re-packed.
      await t.apply(
        sources('layered', {
          url: registry.url('apps/layered'),
          ref: '{tag: v1}',
          extra: `  layerSelector: {mediaType: "${customType}"}\n`,
        }),
      );
      const extracted = await t.waitForReady(oci('layered'));
      expect(statusOf(extracted).observedLayerSelector).toEqual({ mediaType: customType });
      await t.waitForReady(ks('layered'));
      expect(await configMapValue(t, 'layered')).toBe('from-second-layer');

      // copy: the layer's bytes are the artifact (its digest is the layer's).
      await t.apply(
        sources('copied', {
          url: registry.url('apps/layered'),
          ref: '{tag: v1}',
          extra: `  layerSelector: {mediaType: "${customType}", operation: copy}\n`,
        }),
      );
      const copied = await t.waitForReady(oci('copied'));
      expect(statusOf(copied).artifact?.digest).toBe(pushed.layerDigests[1]);
      expect(statusOf(copied).artifact?.revision).toBe(`v1@${pushed.digest}`);
      await t.waitForReady(ks('copied'));

      // Changing only the selector rebuilds the artifact from the same revision.
      await t.apply(sources('layered', { url: registry.url('apps/layered'), ref: '{tag: v1}', path: './' }));
      const first = await t.waitForReady(
        oci('layered'),
        (_r, o) => statusOf(o).observedLayerSelector === undefined,
      );
      expect(statusOf(first).artifact?.revision).toBe(`v1@${pushed.digest}`);
      expect(statusOf(first).artifact?.digest).not.toBe(statusOf(extracted).artifact?.digest);

      await t.apply(
        sources('missing-layer', {
          url: registry.url('apps/layered'),
          ref: '{tag: v1}',
          extra: '  layerSelector: {mediaType: application/x-none}\n',
        }),
      );
      const missing = await t.waitForReady(oci('missing-layer'), (r) => r.status === 'False');
      expect(ready(missing)?.reason).toBe('OCIArtifactLayerOperationFailed');
      expect(ready(missing)?.message).toBe(
        "failed to find layer with media type 'application/x-none' in artifact",
      );
    });
  });

  it('keeps the last artifact and the applied objects when the tag disappears, and says what to do', async () => {
    const pushed = await registry.pushArtifact('apps/vanishing', 'v1', appFiles('vanishing', 'kept'));
    await withEngine(async (t) => {
      await t.apply(sources('vanishing', { ref: '{tag: v1}' }));
      const good = await t.waitForReady(oci('vanishing'));
      await t.waitForReady(ks('vanishing'));

      await registry.deleteManifest('apps/vanishing', pushed.digest);
      const failed = await t.waitForReady(oci('vanishing'), (r) => r.status === 'False');
      expect(ready(failed)?.reason).toBe('OCIArtifactPullFailed');
      expect(ready(failed)?.message).toBe(
        `failed to determine artifact digest: tag 'v1' not found in ${registry.host}/apps/vanishing: push it, or point spec.ref at a tag that exists`,
      );
      expect(statusOf(failed).artifact).toEqual(statusOf(good).artifact);
      const kustomization = await t.get(ks('vanishing'));
      expect(ready(kustomization)?.status).toBe('True');
      expect(await configMapValue(t, 'vanishing')).toBe('kept');

      // Pushed again: Ready again, on the same revision.
      await registry.pushArtifact('apps/vanishing', 'v1', appFiles('vanishing', 'kept'));
      const back = await t.waitForReady(oci('vanishing'));
      expect(statusOf(back).artifact?.revision).toBe(`v1@${pushed.digest}`);
    });
  });

  it('names the unreachable registry, the missing tag and the unsupported provider in Ready=False', async () => {
    await withEngine(async (t) => {
      await t.apply(sources('unreachable', { url: 'oci://127.0.0.1:1/apps/x' }));
      const down = await t.waitForReady(oci('unreachable'), (r) => r.status === 'False');
      expect(ready(down)?.reason).toBe('OCIArtifactPullFailed');
      expect(ready(down)?.message).toMatch(/connect to 127\.0\.0\.1:1: .*ECONNREFUSED/);
      const waiting = await t.waitForReady(ks('unreachable'), (r) => r.status === 'False');
      expect(ready(waiting)?.message).toContain("OCIRepository 'default/unreachable'");

      await t.apply(sources('notag', { ref: '{tag: v9}' }));
      const notag = await t.waitForReady(oci('notag'), (r) => r.status === 'False');
      expect(ready(notag)?.message).toBe(
        `failed to determine artifact digest: tag 'v9' not found in ${registry.host}/apps/notag: push it, or point spec.ref at a tag that exists`,
      );

      await t.apply(sources('aws', { extra: '  provider: aws\n' }));
      const aws = await t.waitForReady(oci('aws'), (r) => r.status === 'False');
      expect(ready(aws)?.reason).toBe('InvalidSpec');
      expect(ready(aws)?.message).toContain("provider 'aws'");
      const stalled = ((aws.status as { conditions?: Condition[] }).conditions ?? []).find(
        (c) => c.type === 'Stalled',
      );
      expect(stalled?.status).toBe('True');
    });
  });

  it('fetches at once on a Receiver webhook, and Alerts forward its NewArtifact event', async () => {
    const first = await registry.pushArtifact('apps/hooked', 'v1', appFiles('hooked', 'one'));
    const endpoint = await startEndpoint();
    try {
      await withEngine(async (t) => {
        await t.apply(`
apiVersion: v1
kind: Secret
metadata: {name: hook-token, namespace: default}
stringData: {token: hook-token-value}
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {name: registry-push, namespace: default}
spec:
  type: generic
  secretRef: {name: hook-token}
  resources: [{kind: OCIRepository, name: hooked}]
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata: {name: hook, namespace: default}
spec: {type: generic, address: ${endpoint.url}/events}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: {name: oci-events, namespace: default}
spec:
  providerRef: {name: hook}
  eventSources: [{kind: OCIRepository, name: '*'}]
---
${sources('hooked', { ref: '{tag: v1}' }).replace('interval: 1s', 'interval: 1h')}`);
        await t.waitForReady({ kind: 'Alert', namespace: 'default', name: 'oci-events' });
        const source = await t.waitForReady(oci('hooked'));
        expect(statusOf(source).artifact?.revision).toBe(`v1@${first.digest}`);
        const receiver = await t.waitForReady({
          kind: 'Receiver',
          namespace: 'default',
          name: 'registry-push',
        });
        const path = (receiver.status as { webhookPath: string }).webhookPath;

        const second = await registry.pushArtifact('apps/hooked', 'v1', appFiles('hooked', 'two'));
        const res = await fetch(`${t.engine.receiverUrl}${path}`, { method: 'POST', body: '{}' });
        expect(res.status).toBe(200);
        await t.waitForReady(
          oci('hooked'),
          (_r, o) => statusOf(o).artifact?.revision === `v1@${second.digest}`,
        );
        await eventually(async () => expect(await configMapValue(t, 'hooked')).toBe('two'), {
          what: 'the hooked ConfigMap',
        });

        const delivered = await eventually(
          () =>
            endpoint.requests
              .map(
                (r) =>
                  r.json() as {
                    reason: string;
                    involvedObject: { kind: string };
                    metadata?: Record<string, string>;
                  },
              )
              .find(
                (e) =>
                  e.involvedObject.kind === 'OCIRepository' &&
                  e.metadata?.['source.toolkit.fluxcd.io/revision'] === `v1@${second.digest}`,
              ),
          { what: 'the NewArtifact event of the second revision at the provider' },
        );
        expect(delivered.reason).toBe('NewArtifact');
      });
    } finally {
      await endpoint.stop();
    }
  });

  it(
    'refuses an invalid URL at apply',
    async () => {
      const file = join(scratch, 'bad.yaml');
      writeFileSync(file, sources('bad', { url: 'oci://ghcr.io/org/app:v1' }));
      const applied = await runTracked(
        process.execPath,
        [...KEDGE_CLI, '--data-dir', join(scratch, 'apply-data'), 'apply', '-f', file],
        { env: { ...process.env, NO_COLOR: '1' }, timeoutMs: startsBudgetMs(1, cliStartMs, 10_000) },
      );
      expect(applied.code).toBe(1);
      expect(applied.stderr).toContain("spec.url: URL must not contain a tag; remove ':v1'");
    },
    startsBudgetMs(1, cliStartMs, 10_000),
  );
});

describe('OCIRepository with credentials and TLS', () => {
  let secure: OciRegistry;
  const basicAuth = { username: 'puller', password: 'correct-horse-7' };
  beforeAll(async () => {
    secure = await startOciRegistry({ basicAuth, tls: { clientAuth: true } });
  });
  afterAll(() => secure?.stop());

  const manifests = (name: string, dockerConfig: string) => `
apiVersion: v1
kind: Secret
metadata: {name: ${name}-pull, namespace: default}
type: kubernetes.io/dockerconfigjson
stringData:
  .dockerconfigjson: '${dockerConfig}'
---
apiVersion: v1
kind: Secret
metadata: {name: ${name}-tls, namespace: default}
stringData:
  ca.crt: |
${secure.caPem!.trim().replace(/^/gm, '    ')}
  tls.crt: |
${secure.clientCertPem!.trim().replace(/^/gm, '    ')}
  tls.key: |
${secure.clientKeyPem!.trim().replace(/^/gm, '    ')}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: ${name}, namespace: default}
spec:
  interval: 1s
  url: ${secure.url('private/app')}
  ref: {tag: v1}
  secretRef: {name: ${name}-pull}
  certSecretRef: {name: ${name}-tls}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: ${name}, namespace: default}
spec:
  interval: 10m
  sourceRef: {kind: OCIRepository, name: ${name}}
  path: ./apps
  prune: true
`;

  it('pulls with a docker config Secret and a CA + client certificate, and on wrong credentials keeps the artifact without showing them', async () => {
    const pushed = await secure.pushArtifact('private/app', 'v1', appFiles('private', 'secret-registry'));
    const wrong = 'wrong-password-do-not-print';
    await withEngine(async (t, logs) => {
      await t.apply(manifests('private', secure.dockerConfigJson()));
      const good = await t.waitForReady(oci('private'));
      expect(statusOf(good).artifact?.revision).toBe(`v1@${pushed.digest}`);
      await t.waitForReady(ks('private'));
      expect(await configMapValue(t, 'private')).toBe('secret-registry');

      await t.apply(
        manifests('private', secure.dockerConfigJson({ username: basicAuth.username, password: wrong })),
      );
      const failed = await t.waitForReady(oci('private'), (r) => r.status === 'False');
      expect(ready(failed)?.message).toMatch(/HTTP 401 .*refused the credentials/);
      expect(statusOf(failed).artifact).toEqual(statusOf(good).artifact);
      expect(await configMapValue(t, 'private')).toBe('secret-registry');

      const events = await t.engine.store.listEvents({});
      for (const text of [JSON.stringify(failed.status), JSON.stringify(events), logs()]) {
        expect(text).not.toContain(wrong);
        expect(text).not.toContain(basicAuth.password);
        expect(text).not.toContain(Buffer.from(`${basicAuth.username}:${wrong}`).toString('base64'));
      }
    });
  });

  it('names the untrusted certificate and the missing credentials', async () => {
    await withEngine(async (t) => {
      await t.apply(`
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: untrusted, namespace: default}
spec: {interval: 1m, url: ${secure.url('private/app')}}
`);
      const untrusted = await t.waitForReady(oci('untrusted'), (r) => r.status === 'False');
      expect(ready(untrusted)?.message).toMatch(/certSecretRef/);

      await t.apply(`
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: nosecret, namespace: default}
spec: {interval: 1m, url: ${secure.url('private/app')}, secretRef: {name: absent}}
`);
      const nosecret = await t.waitForReady(oci('nosecret'), (r) => r.status === 'False');
      expect(ready(nosecret)?.reason).toBe('AuthenticationFailed');
      expect(ready(nosecret)?.message).toBe(
        "failed to get registry credentials secret 'default/absent': not found",
      );
    });
  });
});
